/* globalhook HTML report: data loading and the paged, filterable tables.
 * Data files call GH.load({...}); text from the data is only ever set with
 * textContent, never parsed as HTML. */
(function () {
  "use strict";
  var GH = (window.GH = window.GH || {});
  GH.data = GH.data || {};
  GH.load = function (values) {
    Object.keys(values).forEach(function (key) { GH.data[key] = values[key]; });
  };
  // data/m/N.js calls GH.module(data of module N); a page may set GH.onModule to hear of late ones.
  GH.modules = GH.modules || {};
  GH.module = function (data) {
    // Names arrive as [owner index, name, kind, in the reverse index (0/1)]; pages use [owner, name, kind, href].
    data.names = data.names.map(function (name) {
      var owner = data.owners[name[0]];
      return [owner[0], name[1], name[2], name[3] ? GH.nameHref(owner[1], name[2], name[1]) : ""];
    });
    GH.modules[data.i] = data;
    if (GH.onModule) GH.onModule(data);
  };
  // A name's place in the reverse index, from the report's folder: its id there is n-<kind>-<name>.
  GH.nameHref = function (slug, kind, name) {
    return "names/" + slug + ".html#" + encodeURIComponent("n-" + kind + "-" + name);
  };
  // Marks when a page has built what it shows, and when the next frame has
  // been painted with it (benchmarks/html_scale.py reads them).
  GH.drawn = function () {
    if (!window.performance || !performance.mark) return;
    performance.mark("globalhook-drawn");
    requestAnimationFrame(function () { setTimeout(function () { performance.mark("globalhook-shown"); }, 0); });
  };
  GH.number = function (value) { return Number(value).toLocaleString("en-US"); };
  GH.STATIC = " (static)";

  GH.el = function (tag, attrs, text) {
    var node = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (key) { node.setAttribute(key, attrs[key]); });
    }
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  };
  var el = GH.el;

  // "Tests: a (3), b (1) and 5 more": the most frequent first.
  GH.testsLine = function (counts, most) {
    var names = Object.keys(counts).sort(function (a, b) { return counts[b] - counts[a] || (a < b ? -1 : a > b ? 1 : 0); });
    var shown = names.slice(0, most).map(function (name) { return name + " (" + GH.number(counts[name]) + ")"; }).join(", ");
    return "Tests: " + shown + (names.length > most ? " and " + GH.number(names.length - most) + " more" : "");
  };

  // The pager of a page drawn in views: links to #p=N.
  GH.pager = function (pages, current) {
    var nav = GH.el("nav", { "class": "pager" }, "Page ");
    for (var page = 0; page < pages; page++) {
      if (page) nav.appendChild(document.createTextNode(" "));
      nav.appendChild(page === current ? GH.el("strong", null, page + 1) : GH.el("a", { href: "#p=" + (page + 1) }, page + 1));
    }
    return nav;
  };

  // Show the element the address names, now that it exists (:target and scrolling).
  GH.showTarget = function () {
    if (window.location.hash.length > 1 && /^#(?!p=)/.test(window.location.hash)) window.location.replace(window.location.href);
  };

  // A page drawn from its data: mark it drawn, show the target, and draw again when the address changes.
  GH.follow = function (render) {
    GH.drawn();
    GH.showTarget();
    window.addEventListener("hashchange", function () {
      if (render()) {
        GH.showTarget();
        if (/^#p=/.test(window.location.hash)) window.scrollTo(0, 0);
      }
    });
  };

  var number = GH.number;

  var slugs = new Map();  // owner -> file name of its page in names/ (data/names.js)

  // Column: title, get(row) -> value, optional link(row) -> href, num (right-aligned, sorts numerically).
  var TABLES = {
    modules: {
      pageSize: 50,
      filterLabel: "filter modules",
      search: function (r) { return r[0]; },
      columns: [
        { title: "module", get: function (r) { return r[0]; }, link: function (r) { return r[1]; }, cls: "link" },
        { title: "functions", get: function (r) { return r[2]; }, num: true },
        { title: "globals", get: function (r) { return r[3]; }, num: true },
        { title: "builtins", get: function (r) { return r[4]; }, num: true },
        { title: "missing", get: function (r) { return r[5]; }, num: true },
        { title: "lookups", get: function (r) { return r[6]; }, num: true },
        { title: "", get: function () { return "graph"; }, link: function (r) { return "graph.html#m=" + r[7]; }, nosort: true }
      ]
    },
    names: {
      pageSize: 100,
      filterLabel: "filter names or modules",
      search: function (r) { return r[0] + " " + r[1]; },
      columns: [
        { title: "module", get: function (r) { return r[0]; }, cls: "mono" },
        { title: "name", get: function (r) { return r[1]; }, link: function (r) { return GH.nameHref(slugs.get(r[0]), r[2], r[1]); }, cls: "link" },
        { title: "kind", get: function (r) { return r[2]; } },
        { title: "readers", get: function (r) { return r[3]; }, num: true },
        { title: "tests", get: function (r) { return r[4]; }, num: true },
        { title: "lookups", get: function (r) { return r[5]; }, num: true }
      ]
    }
  };

  function PagedTable(container, spec, rows) {
    this.container = container;
    this.spec = spec;
    this.all = rows;
    this.rows = rows;
    this.page = 0;
    this.sortColumn = -1;
    this.descending = false;
    this.build();
    this.render();
  }

  PagedTable.prototype.build = function () {
    var self = this;
    var controls = el("div", { "class": "controls" });
    this.input = el("input", { type: "search", placeholder: this.spec.filterLabel, "aria-label": this.spec.filterLabel });
    this.input.addEventListener("input", function () { self.filter(self.input.value); });
    this.count = el("span", { "class": "count" });
    this.prev = el("button", { type: "button" }, "\u2039 previous");
    this.next = el("button", { type: "button" }, "next \u203A");
    this.where = el("span", { "class": "count" });
    this.prev.addEventListener("click", function () { self.go(self.page - 1); });
    this.next.addEventListener("click", function () { self.go(self.page + 1); });
    [this.input, this.count, this.prev, this.where, this.next].forEach(function (n) { controls.appendChild(n); });
    this.table = el("table", { "class": "data" });
    var head = el("tr");
    this.spec.columns.forEach(function (column, index) {
      var th = el("th", column.num ? { "class": "num" } : null, column.title);
      if (!column.nosort) th.addEventListener("click", function () { self.sort(index); });
      head.appendChild(th);
    });
    this.heads = head.children;
    var thead = el("thead");
    thead.appendChild(head);
    this.table.appendChild(thead);
    this.body = el("tbody");
    this.table.appendChild(this.body);
    this.container.textContent = "";
    this.container.appendChild(controls);
    this.container.appendChild(this.table);
  };

  PagedTable.prototype.filter = function (text) {
    var needle = text.trim().toLowerCase();
    var search = this.spec.search;
    this.rows = needle ? this.all.filter(function (r) { return search(r).toLowerCase().indexOf(needle) >= 0; }) : this.all;
    this.applySort();
    this.go(0);
  };

  PagedTable.prototype.sort = function (index) {
    this.descending = this.sortColumn === index ? !this.descending : !!this.spec.columns[index].num;
    this.sortColumn = index;
    this.applySort();
    this.go(0);
  };

  PagedTable.prototype.applySort = function () {
    if (this.sortColumn < 0) return;
    var column = this.spec.columns[this.sortColumn];
    var sign = this.descending ? -1 : 1;
    var get = column.get;
    this.rows = this.rows.slice().sort(function (a, b) {
      var x = get(a), y = get(b);
      return (x < y ? -1 : x > y ? 1 : 0) * sign;
    });
    for (var i = 0; i < this.heads.length; i++) {
      this.heads[i].className = (this.spec.columns[i].num ? "num " : "") +
        (i === this.sortColumn ? (this.descending ? "sorted-desc" : "sorted-asc") : "");
    }
  };

  PagedTable.prototype.go = function (page) {
    var pages = Math.max(1, Math.ceil(this.rows.length / this.spec.pageSize));
    this.page = Math.min(Math.max(0, page), pages - 1);
    this.render();
  };

  PagedTable.prototype.render = function () {
    var size = this.spec.pageSize;
    var pages = Math.max(1, Math.ceil(this.rows.length / size));
    var start = this.page * size;
    var slice = this.rows.slice(start, start + size);
    var columns = this.spec.columns;
    var fragment = document.createDocumentFragment();
    slice.forEach(function (row) {
      var tr = el("tr");
      columns.forEach(function (column) {
        var value = column.get(row);
        var td = el("td", column.num ? { "class": "num" } : column.cls ? { "class": column.cls } : null);
        if (column.link) {
          td.appendChild(el("a", { href: column.link(row) }, value));
        } else {
          td.textContent = column.num ? number(value) : String(value);
        }
        tr.appendChild(td);
      });
      fragment.appendChild(tr);
    });
    this.body.textContent = "";
    this.body.appendChild(fragment);
    this.count.textContent = this.rows.length === this.all.length
      ? number(this.all.length) + " rows"
      : number(this.rows.length) + " of " + number(this.all.length) + " rows";
    this.where.textContent = "page " + (this.page + 1) + " of " + pages;
    this.prev.disabled = this.page === 0;
    this.next.disabled = this.page >= pages - 1;
  };

  GH.PagedTable = PagedTable;

  document.addEventListener("DOMContentLoaded", function () {
    (GH.data.owners || []).forEach(function (pair) { slugs.set(pair[0], pair[1]); });
    var containers = document.querySelectorAll(".gh-table[data-source]");
    Array.prototype.forEach.call(containers, function (container) {
      var source = container.getAttribute("data-source");
      var spec = TABLES[source];
      if (spec && GH.data[source]) container.table = new PagedTable(container, spec, GH.data[source]);
    });
    if (containers.length) GH.drawn();
  });
})();
