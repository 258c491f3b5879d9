/* globalhook HTML report: one owner's page of the reverse index ("who reads what in M").
 *
 * Nothing is written twice: the page loads the data files of the modules
 * whose functions read the owner's names (data/m/N.js, see modulepage.js)
 * and gathers, per name, its readers and tests.  Names are shown in views of
 * about data-per-page reader rows; #n-<kind>-<name> or #p=2 picks which.
 * Text from the data is set with textContent only. */
(function () {
  "use strict";
  var GH = window.GH, el = GH.el, number = GH.number;

  function compare(a, b) { return a < b ? -1 : a > b ? 1 : 0; }

  function gather(owner) {
    var found = Object.create(null);  // kind \0 name -> entry; no prototype: names are data
    Object.keys(GH.modules).map(Number).sort(function (a, b) { return a - b; }).forEach(function (index) {
      var data = GH.modules[index];
      data.functions.forEach(function (fn, position) {
        fn[5].forEach(function (read) {
          var name = data.names[read[0]];
          if (name[0] !== owner || !name[3]) return;  // only names of the reverse index have a link
          var key = name[1] + "\u0000" + name[2];
          var entry = found[key];
          if (!entry) entry = found[key] = { name: name[1], kind: name[2], count: 0, readers: [], contexts: Object.create(null) };
          entry.count += read[1];
          entry.readers.push({
            module: data.module, fn: fn[0], file: data.files[fn[1]], line: fn[2], count: read[1],
            href: "../" + data.page + "#f" + (data.first + position)
          });
          (read[4] || []).forEach(function (pair) {
            var test = data.contexts[pair[0]];
            entry.contexts[test] = (entry.contexts[test] || 0) + pair[1];
          });
        });
      });
    });
    return Object.keys(found).sort().map(function (key) {
      var entry = found[key];
      entry.readers.sort(function (a, b) {
        return b.count - a.count || compare(a.module, b.module) || compare(a.fn, b.fn) || compare(a.file, b.file) || a.line - b.line;
      });
      return entry;
    });
  }

  function views(names, rows, shown) {  // [[first name, end], ...]: about `rows` reader rows each
    var result = [], used = rows;
    names.forEach(function (entry, index) {
      var size = Math.min(entry.readers.length, shown);
      if (used + size > rows && (!result.length || result[result.length - 1][1] > result[result.length - 1][0])) {
        result.push([index, index]);
        used = 0;
      }
      used += Math.max(size, 1);
      result[result.length - 1][1] = index + 1;
    });
    return result.length ? result : [[0, 0]];
  }

  function anchor(entry) { return "n-" + entry.kind + "-" + entry.name; }

  function section(entry, owner, shown, most) {
    var id = anchor(entry), count = entry.readers.length;
    var node = el("section", { "class": "name k-" + entry.kind, id: id });
    var h2 = el("h2");
    h2.appendChild(el("a", { "class": "anchor", href: "#" + encodeURIComponent(id) }, entry.name));
    h2.appendChild(document.createTextNode(" "));
    h2.appendChild(el("span", { "class": "kind" }, entry.kind));
    h2.appendChild(document.createTextNode(" "));
    h2.appendChild(el("span", { "class": "where" }, number(entry.count) + " lookups by " + number(count) + " function" + (count === 1 ? "" : "s")));
    node.appendChild(h2);
    var table = el("table", { "class": "readers" }), head = el("tr");
    ["function", "where", "count"].forEach(function (title) { head.appendChild(el("th", null, title)); });
    table.appendChild(head);
    entry.readers.slice(0, shown).forEach(function (reader) {
      var row = el("tr"), cell = el("td");
      cell.appendChild(el("a", { href: reader.href }, reader.module === owner ? reader.fn : reader.module + "." + reader.fn));
      row.appendChild(cell);
      row.appendChild(el("td", null, reader.file + ":" + reader.line));
      row.appendChild(el("td", { "class": "num" }, number(reader.count)));
      table.appendChild(row);
    });
    node.appendChild(table);
    if (count > shown) {
      node.appendChild(el("p", { "class": "note" }, "and " + number(count - shown) + " more readers (see globalhook report --by-name)"));
    }
    if (Object.keys(entry.contexts).length) node.appendChild(el("p", { "class": "tests" }, GH.testsLine(entry.contexts, most)));
    return node;
  }

  var container, names, parts, shownView = -1;

  function wanted() {
    var hash = window.location.hash;
    var page = /^#p=(\d+)/.exec(hash);
    if (page) return Number(page[1]) - 1;
    if (hash.length > 1) {
      var id;
      try { id = decodeURIComponent(hash.slice(1)); } catch (e) { id = hash.slice(1); }
      for (var index = 0; index < names.length; index++) {
        if (anchor(names[index]) === id) {
          for (var view = 0; view < parts.length; view++) if (index < parts[view][1]) return view;
        }
      }
    }
    return shownView < 0 ? 0 : shownView;
  }

  function render() {
    var owner = container.getAttribute("data-owner");
    var shown = Number(container.getAttribute("data-shown")) || 5000;
    var most = Number(container.getAttribute("data-tests")) || 20;
    var view = Math.min(Math.max(0, wanted()), parts.length - 1);
    if (view === shownView) return false;
    shownView = view;
    var chosen = names.slice(parts[view][0], parts[view][1]);
    var fragment = document.createDocumentFragment();
    if (parts.length > 1) fragment.appendChild(GH.pager(parts.length, view));
    var list = el("p", { "class": "contents" });
    chosen.forEach(function (entry, index) {
      if (index) list.appendChild(document.createTextNode(" \u00B7 "));
      list.appendChild(el("a", { href: "#" + encodeURIComponent(anchor(entry)) }, entry.name));
    });
    fragment.appendChild(list);
    chosen.forEach(function (entry) { fragment.appendChild(section(entry, owner, shown, most)); });
    if (parts.length > 1) fragment.appendChild(GH.pager(parts.length, view));
    container.textContent = "";
    container.appendChild(fragment);
    return true;
  }

  document.addEventListener("DOMContentLoaded", function () {
    container = document.getElementById("names-of");
    if (!container) return;
    names = gather(container.getAttribute("data-owner"));
    parts = views(names, Number(container.getAttribute("data-per-page")) || 2000, Number(container.getAttribute("data-shown")) || 5000);
    render();
    GH.follow(render);
  });
})();
