/* globalhook HTML report: a module's page, drawn from its data file (data/m/N.js).
 *
 * The data: names [[owner, name, kind, href]], contexts [test id], files
 * [path], texts [distinct source line], source [[file, first line, [text
 * index, ...]], ...] and functions [[qualname, file, line, notes, view,
 * reads]], where view is [] (no source shown) or [first, last, [[start, end],
 * ...] when not all of it] and each read is [name, count, [lines], not by
 * name (0/1)?, [[context, count], ...]?].  report.js turns names into
 * [owner, name, kind, href] as the file loads.  Function number k of the module has the
 * anchor f(first + k).  A hundred functions are shown at a time; #f123 or
 * #p=2 picks which.  Text from the data is set with textContent only. */
(function () {
  "use strict";
  var GH = window.GH, el = GH.el, number = GH.number;

  function lineTexts(data) {  // file -> line -> text
    var byFile = {};
    data.source.forEach(function (run) {
      var lines = byFile[run[0]] = byFile[run[0]] || {};
      run[2].forEach(function (text, offset) { lines[run[1] + offset] = data.texts[text]; });
    });
    return byFile;
  }


  function section(data, position, texts, most) {
    var fn = data.functions[position], fid = data.first + position, view = fn[4];
    var node = el("section", { "class": "function", id: "f" + fid });
    var h2 = el("h2");
    h2.appendChild(el("a", { "class": "anchor", href: "#f" + fid }, fn[0]));
    h2.appendChild(document.createTextNode(" "));
    h2.appendChild(el("span", { "class": "where" }, data.files[fn[1]] + ":" + fn[2]));
    node.appendChild(h2);
    fn[3].forEach(function (note) { node.appendChild(el("p", { "class": "source-note" }, note)); });
    var table = el("table", { "class": "names" }), head = el("tr");
    ["name", "kind", "count", "lines"].forEach(function (title) { head.appendChild(el("th", null, title)); });
    table.appendChild(head);
    var hits = {}, contexts = Object.create(null);  // no prototype: a test may be called "__proto__"
    fn[5].forEach(function (read) {
      var name = data.names[read[0]], kind = name[2], isStatic = kind.slice(-GH.STATIC.length) === GH.STATIC;
      var row = el("tr", { "class": "k-" + (isStatic ? kind.slice(0, -GH.STATIC.length) + " static" : kind) });
      var cell = el("td");
      if (name[3]) cell.appendChild(el("a", { href: "../" + name[3] }, name[1]));
      else cell.textContent = name[0] === data.module ? name[1] : name[0] + "." + name[1];
      row.appendChild(cell);
      row.appendChild(el("td", null, kind));
      if (isStatic) row.appendChild(el("td", { title: "not counted: found by scanning bytecode" }, "-"));
      else row.appendChild(el("td", null, number(read[1])));
      var where = el("td");
      read[2].forEach(function (line, index) {
        (hits[line] = hits[line] || []).push(name[1]);
        if (index) where.appendChild(document.createTextNode(", "));
        where.appendChild(el("a", { href: "#f" + fid + "-L" + line }, line));
      });
      if (read[3]) where.appendChild(el("span", { "class": "note", title: "read through globals(), eval or exec, or the source changed" }, "not by name"));
      row.appendChild(where);
      table.appendChild(row);
      (read[4] || []).forEach(function (pair) {
        var test = data.contexts[pair[0]];
        contexts[test] = (contexts[test] || 0) + pair[1];
      });
    });
    node.appendChild(table);
    if (Object.keys(contexts).length) node.appendChild(el("p", { "class": "tests" }, GH.testsLine(contexts, most)));
    if (view.length) node.appendChild(source(view, texts[fn[1]] || {}, fid, hits));
    return node;
  }

  function gap(count) { return el("p", { "class": "gap" }, "\u22EE " + number(count) + " lines"); }

  function source(view, lines, fid, hits) {
    var fragment = document.createDocumentFragment(), previous = view[0] - 1;
    (view[2] || [[view[0], view[1]]]).forEach(function (part) {
      if (part[0] > previous + 1) fragment.appendChild(gap(part[0] - previous - 1));
      var pre = el("pre", { "class": "source" });
      pre.style.counterReset = "ln " + (part[0] - 1);
      for (var line = part[0]; line <= part[1]; line++) {
        var text = lines[line] === undefined ? "" : lines[line];
        if (hits[line]) {
          var span = el("span", { "class": "line hit", id: "f" + fid + "-L" + line }, text);
          span.appendChild(el("span", { "class": "reads" }, hits[line].join(", ")));
          pre.appendChild(span);
        } else {
          pre.appendChild(el("span", { "class": "line" }, text));
        }
      }
      fragment.appendChild(pre);
      previous = part[1];
    });
    if (view[1] > previous) fragment.appendChild(gap(view[1] - previous));
    return fragment;
  }

  function contents(data, start, end) {
    var table = el("table", { "class": "contents" }), head = el("tr");
    ["function", "line", "globals", "builtins", "missing", "lookups"].forEach(function (title) { head.appendChild(el("th", null, title)); });
    table.appendChild(head);
    for (var position = start; position < end; position++) {
      var fn = data.functions[position], kinds = { global: 0, builtin: 0 }, missing = [], lookups = 0;
      fn[5].forEach(function (read) {
        var name = data.names[read[0]];
        if (name[2] === "global" || name[2] === "builtin") kinds[name[2]] += 1;
        if (name[2] === "missing") missing.push(name[1]);
        lookups += read[1];
      });
      var row = el("tr"), cell = el("td");
      cell.appendChild(el("a", { href: "#f" + (data.first + position) }, fn[0]));
      row.appendChild(cell);
      row.appendChild(el("td", { "class": "num" }, fn[2]));
      row.appendChild(el("td", { "class": "num" }, kinds.global));
      row.appendChild(el("td", { "class": "num" }, kinds.builtin));
      row.appendChild(el("td", { "class": "missing" }, missing.join(", ")));
      row.appendChild(el("td", { "class": "num" }, number(lookups)));
      table.appendChild(row);
    }
    return table;
  }

  var container, data, texts, shownPage = -1;

  function wanted(size) {
    var match = /^#(?:f(\d+)|p=(\d+))/.exec(window.location.hash);
    if (!match) return shownPage < 0 ? 0 : shownPage;
    return match[1] !== undefined ? Math.floor((Number(match[1]) - data.first) / size) : Number(match[2]) - 1;
  }

  function render() {
    var size = Number(container.getAttribute("data-per-page")) || 100;
    var most = Number(container.getAttribute("data-tests")) || 20;
    var pages = Math.max(1, Math.ceil(data.functions.length / size));
    var page = Math.min(Math.max(0, wanted(size) || 0), pages - 1);
    if (page === shownPage) return false;
    shownPage = page;
    var start = page * size, end = Math.min(data.functions.length, start + size);
    var fragment = document.createDocumentFragment();
    if (pages > 1) fragment.appendChild(GH.pager(pages, page));
    fragment.appendChild(contents(data, start, end));
    for (var position = start; position < end; position++) fragment.appendChild(section(data, position, texts, most));
    if (pages > 1) fragment.appendChild(GH.pager(pages, page));
    container.textContent = "";
    container.appendChild(fragment);
    return true;
  }

  document.addEventListener("DOMContentLoaded", function () {
    container = document.getElementById("functions");
    data = container && GH.modules[container.getAttribute("data-module")];
    if (!data) {
      if (container) container.textContent = "The data of this module could not be loaded.";
      return;
    }
    texts = lineTexts(data);
    render();
    GH.follow(render);
  });
})();
