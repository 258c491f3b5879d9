/* globalhook HTML report: the dependency graph, drawn as SVG by this file alone.
 *
 * Left: functions, grouped by module, in source order.  Right: the names they
 * read, grouped by the module that owns them, each placed near the average
 * height of its readers to keep edges short.  A module's data file
 * (data/m/N.js, the one its page shows; see modulepage.js) is loaded with a
 * script tag when the module is first shown, so a report of 10^5 functions
 * opens at once.  Text from the data is set with textContent only. */
(function () {
  "use strict";
  var GH = window.GH;
  var SVG = "http://www.w3.org/2000/svg";
  var MAX_FUNCTIONS = 400;
  var ROW = 20, HEADER = 30, GAP = 14, TOP = 10;
  var LABEL = 44;

  var cache = {};       // module index -> graph data
  var requested = {};   // module index -> true once its script is added
  var selected = [];    // module indexes shown, in order
  var modules = (GH.data && GH.data.modules) || [];

  function svg(tag, attrs, text) {
    var node = document.createElementNS(SVG, tag);
    if (attrs) Object.keys(attrs).forEach(function (key) { node.setAttribute(key, attrs[key]); });
    if (text !== undefined) node.textContent = String(text);
    return node;
  }

  function cut(text, size) {
    return text.length > size ? text.slice(0, size - 1) + "\u2026" : text;
  }

  // A module's data as the graph draws it: {module, functions: [[name, line,
  // href, [[name index, count], ...]]], names: [[owner, name, kind, href]]},
  // writes left out and every builtin owned by "builtins".
  function graphOf(data) {
    var names = [], seen = Object.create(null), map = [];
    data.names.forEach(function (name, index) {
      var kind = name[2];
      if (kind === "store" || kind === "delete" || kind.slice(-GH.STATIC.length) === GH.STATIC) { map.push(-1); return; }
      var owner = kind === "builtin" ? "builtins" : name[0];
      var key = owner + "\u0000" + name[1] + "\u0000" + kind;
      if (!(key in seen)) { seen[key] = names.length; names.push([owner, name[1], kind, name[3]]); }
      map.push(seen[key]);
    });
    var functions = data.functions.map(function (fn, position) {
      var edges = [];
      fn[5].forEach(function (read) { if (map[read[0]] >= 0) edges.push([map[read[0]], read[1]]); });
      return [fn[0], fn[2], data.page + "#f" + (data.first + position), edges];
    });
    return { module: data.module, functions: functions, names: names };
  }

  GH.onModule = function (data) {
    cache[data.i] = graphOf(data);
    draw();
  };

  function need(index) {
    if (cache[index] || requested[index]) return;
    requested[index] = true;
    var script = document.createElement("script");
    script.src = "data/m/" + index + ".js";
    script.onerror = function () { status("Could not load the data of " + modules[index][0] + "."); };
    document.body.appendChild(script);
  }

  function status(text) { document.getElementById("graph-status").textContent = text; }

  function fromHash() {
    var match = /(?:^|[#&])m=([0-9,]+)/.exec(window.location.hash);
    if (!match) return null;
    var found = match[1].split(",").map(Number).filter(function (i) { return i >= 0 && i < modules.length; });
    return found.length ? found : null;
  }

  function toHash() {
    var hash = "#m=" + selected.join(",");
    if (window.location.hash !== hash && window.history && window.history.replaceState) {
      window.history.replaceState(null, "", hash);
    }
  }

  function listModules() {
    var list = document.getElementById("module-list");
    var needle = document.getElementById("module-filter").value.trim().toLowerCase();
    list.textContent = "";
    var shown = 0, matching = 0;
    modules.forEach(function (row, index) {
      if (needle && row[0].toLowerCase().indexOf(needle) < 0 && selected.indexOf(index) < 0) return;
      matching += 1;
      if (shown >= 200 && selected.indexOf(index) < 0) return;
      shown += 1;
      var label = GH.el("label", { title: row[0] });
      var box = GH.el("input", { type: "checkbox" });
      box.checked = selected.indexOf(index) >= 0;
      box.addEventListener("change", function () {
        if (box.checked) selected.push(index);
        else selected = selected.filter(function (i) { return i !== index; });
        toHash();
        show();
      });
      label.appendChild(box);
      label.appendChild(document.createTextNode(" " + row[0] + " (" + row[2] + ")"));
      list.appendChild(label);
    });
    if (matching > shown) list.appendChild(GH.el("p", { "class": "note" }, (matching - shown) + " more: filter to find them"));
  }

  function show() {
    var missing = selected.filter(function (i) { return !cache[i]; });
    missing.forEach(need);
    if (missing.length) status("Loading " + missing.length + " module(s)\u2026");
    draw();
  }

  function draw() {
    var target = document.getElementById("graph");
    if (selected.some(function (i) { return !cache[i]; })) return;  // wait for the rest
    var WIDTH = Math.max(760, Math.min(1400, target.clientWidth || 960));
    var LEFT_X = Math.round(WIDTH * 0.36), RIGHT_X = Math.round(WIDTH * 0.64);
    var needle = document.getElementById("function-filter").value.trim().toLowerCase();
    var builtins = document.getElementById("show-builtins").checked;
    var left = [], nodes = {}, order = [], edges = [];
    var total = 0, shown = 0;
    selected.forEach(function (index) {
      var data = cache[index];
      var group = { label: data.module, items: [] };
      data.functions.forEach(function (fn) {
        var visible = fn[3].filter(function (edge) { return builtins || data.names[edge[0]][2] !== "builtin"; });
        if (!visible.length) return;  // reads no module global (only builtins, or only writes)
        total += 1;
        if (needle && fn[0].toLowerCase().indexOf(needle) < 0) return;
        if (shown >= MAX_FUNCTIONS) return;
        shown += 1;
        var item = { name: fn[0], line: fn[1], href: fn[2], edges: [] };
        visible.forEach(function (edge) {
          var name = data.names[edge[0]];
          var key = name[0] + "\u0000" + name[1] + "\u0000" + name[2];
          var node = nodes[key];
          if (!node) {
            node = nodes[key] = { owner: name[0], name: name[1], kind: name[2], href: name[3], readers: [] };
            order.push(node);
          }
          item.edges.push({ node: node, count: edge[1] });
        });
        group.items.push(item);
      });
      if (group.items.length) left.push(group);
    });

    // Left column positions.
    var y = TOP;
    left.forEach(function (group) {
      group.top = y;
      y += HEADER;
      group.items.forEach(function (item) {
        item.y = y + ROW / 2;
        item.edges.forEach(function (edge) { edge.node.readers.push(item.y); });
        y += ROW;
      });
      group.bottom = y;
      y += GAP;
    });
    var height = y;

    // Right column: owners in order of their names' mean reader height, names likewise.
    var owners = {};
    var ownerList = [];
    order.forEach(function (node) {
      node.center = node.readers.reduce(function (a, b) { return a + b; }, 0) / node.readers.length;
      if (!owners[node.owner]) { owners[node.owner] = { label: node.owner, items: [], center: 0 }; ownerList.push(owners[node.owner]); }
      owners[node.owner].items.push(node);
    });
    ownerList.forEach(function (group) {
      group.items.sort(function (a, b) { return a.center - b.center || (a.name < b.name ? -1 : 1); });
      group.center = group.items[0].center;
    });
    ownerList.sort(function (a, b) { return a.center - b.center; });
    y = TOP;
    ownerList.forEach(function (group) {
      group.top = y;
      y += HEADER;
      group.items.forEach(function (node) { node.y = y + ROW / 2; y += ROW; });
      group.bottom = y;
      y += GAP;
    });
    height = Math.max(height, y, 60);

    var root = svg("svg", { width: WIDTH, height: height, viewBox: "0 0 " + WIDTH + " " + height, role: "img" });
    root.appendChild(svg("title", null, "Functions and the globals they read"));
    var groupLayer = svg("g"), edgeLayer = svg("g"), nodeLayer = svg("g");
    root.appendChild(groupLayer);
    root.appendChild(edgeLayer);
    root.appendChild(nodeLayer);

    function box(group, x, width) {
      groupLayer.appendChild(svg("rect", { "class": "group", x: x, y: group.top, width: width, height: group.bottom - group.top, rx: 6 }));
      groupLayer.appendChild(svg("text", { "class": "group-label", x: x + 8, y: group.top + 18 }, cut(group.label, 48)));
    }
    left.forEach(function (group) { box(group, 4, LEFT_X + 14); });
    ownerList.forEach(function (group) { box(group, RIGHT_X - 14, WIDTH - RIGHT_X + 10); });

    var links = [];  // [item or node, edge element]
    left.forEach(function (group) {
      group.items.forEach(function (item) {
        item.edgeNodes = [];
        item.edges.forEach(function (edge) {
          var middle = (LEFT_X + RIGHT_X) / 2;
          var path = svg("path", {
            "class": "edge k-" + edge.node.kind,
            d: "M" + (LEFT_X + 5) + "," + item.y + " C" + middle + "," + item.y + " " + middle + "," + edge.node.y + " " + (RIGHT_X - 5) + "," + edge.node.y,
            "stroke-width": (1 + Math.log(edge.count) / Math.LN10).toFixed(2)
          });
          path.appendChild(svg("title", null, item.name + " \u2192 " + edge.node.name + ": " + edge.count));
          edgeLayer.appendChild(path);
          item.edgeNodes.push(path);
          edge.node.edgeNodes = edge.node.edgeNodes || [];
          edge.node.edgeNodes.push(path);
          edge.node.neighbours = edge.node.neighbours || [];
          edge.node.neighbours.push(item);
          links.push(path);
        });
      });
    });

    function hover(element, own, others) {
      element.addEventListener("mouseenter", function () {
        root.classList.add("focus");
        element.classList.add("on");
        own.forEach(function (p) { p.classList.add("on"); });
        others.forEach(function (o) { if (o.element) o.element.classList.add("on"); });
      });
      element.addEventListener("mouseleave", function () {
        root.classList.remove("focus");
        Array.prototype.forEach.call(root.querySelectorAll(".on"), function (n) { n.classList.remove("on"); });
      });
    }

    left.forEach(function (group) {
      group.items.forEach(function (item) {
        var a = svg("a", { "class": "node fn", href: item.href });
        a.appendChild(svg("title", null, item.name + " (line " + item.line + ")"));
        a.appendChild(svg("circle", { cx: LEFT_X, cy: item.y, r: 4.5 }));
        a.appendChild(svg("text", { x: LEFT_X - 10, y: item.y + 4, "text-anchor": "end" }, cut(item.name, LABEL)));
        item.element = a;
        nodeLayer.appendChild(a);
      });
    });
    order.forEach(function (node) {
      var a = svg("a", { "class": "node name k-" + node.kind, href: node.href || "names.html" });
      a.appendChild(svg("title", null, node.owner + ":" + node.name + " (" + node.kind + ", " + node.readers.length + " reader" + (node.readers.length === 1 ? "" : "s") + " shown)"));
      a.appendChild(svg("circle", { cx: RIGHT_X, cy: node.y, r: 4.5 }));
      a.appendChild(svg("text", { x: RIGHT_X + 10, y: node.y + 4 }, cut(node.name, 40)));
      node.element = a;
      nodeLayer.appendChild(a);
    });
    left.forEach(function (group) {
      group.items.forEach(function (item) {
        hover(item.element, item.edgeNodes, item.edges.map(function (e) { return e.node; }));
      });
    });
    order.forEach(function (node) { hover(node.element, node.edgeNodes || [], node.neighbours || []); });

    target.textContent = "";
    if (!selected.length) {
      status(modules.length ? "Choose a module on the left." : "No modules in this report.");
      GH.drawn();
      return;
    }
    target.appendChild(root);
    GH.drawn();
    var text = "Showing " + shown + " of " + total + " functions in " + selected.length + " module" +
      (selected.length === 1 ? "" : "s") + ", " + order.length + " names, " + links.length + " edges.";
    if (shown < total && !needle) text += " Filter the functions to see others.";
    else if (shown >= MAX_FUNCTIONS) text += " At most " + MAX_FUNCTIONS + " functions are drawn.";
    status(text);
  }

  document.addEventListener("DOMContentLoaded", function () {
    selected = fromHash() || (modules.length ? [0] : []);
    document.getElementById("module-filter").addEventListener("input", listModules);
    document.getElementById("function-filter").addEventListener("input", draw);
    document.getElementById("show-builtins").addEventListener("change", draw);
    window.addEventListener("hashchange", function () {
      var wanted = fromHash();
      if (wanted && wanted.join(",") !== selected.join(",")) { selected = wanted; listModules(); show(); }
    });
    listModules();
    show();
  });
})();
