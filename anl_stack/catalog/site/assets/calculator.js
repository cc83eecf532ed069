/* The catalog's cost calculator: reads the tools' assumptions embedded in the page, runs the cost
   model (cost-model.js) on what the reader types, and writes the figures as `plugins cost` does.
   Every text comes from the page's data, in the page's language; nothing is fetched. */
(function () {
  "use strict";
  var model = window.AnlCostModel;
  var data = JSON.parse(document.getElementById("calc-data").textContent);
  var texts = data.texts, lang = data.lang;
  var toolSelect = document.getElementById("calc-tool");
  var inhabitants = document.getElementById("calc-inhabitants");
  var box = document.getElementById("calc-assumptions");
  var body = document.querySelector("#calc-results tbody");
  var status = document.getElementById("calc-status");
  var serverLine = document.getElementById("calc-server");

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined && text !== null) { node.textContent = text; }
    return node;
  }

  function tool() {
    var name = toolSelect.value;
    return data.tools.filter(function (t) { return t.name === name; })[0];
  }

  function shown(value) {
    var text = String(value);
    return lang === "fr" ? text.replace(".", ",") : text;
  }

  // A unit in the page's language (anl_stack/costs/text.py, unit).
  function unitText(unit) {
    return Object.prototype.hasOwnProperty.call(texts, "unit." + unit) ? texts["unit." + unit] : unit;
  }

  // A formula or a missing need with its words in the page's language (anl_stack/costs/text.py, formula):
  // each [English, translated] pair of data.formulas matches the whole text, a {name} matching any text,
  // itself translated the same way.
  function escaped(text) { return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"); }

  function formulaText(text) {
    for (var i = 0; i < data.formulas.length; i += 1) {
      var english = data.formulas[i][0], names = [];
      var pattern = english.split(/(\{[a-z_]+\})/).map(function (part) {
        if (/^\{[a-z_]+\}$/.test(part)) { names.push(part.slice(1, -1)); return "(.+?)"; }
        return escaped(part);
      }).join("");
      var found = new RegExp("^" + pattern + "$").exec(text);
      if (found) {
        var shownText = data.formulas[i][1];
        names.forEach(function (name, j) { shownText = shownText.split("{" + name + "}").join(formulaText(found[j + 1])); });
        return shownText;
      }
    }
    return text;
  }

  // The same text as `plugins cost` (anl_stack/cli/cost_view.py, _value).
  function valueText(line) {
    if (line.value !== null) { return model.number(line.value, lang) + " " + unitText(line.unit); }
    var text = texts.unknown;
    if (line.known_part) { text = texts.at_least + " " + model.number(line.known_part, lang) + " " + unitText(line.unit); }
    if (line.missing.length) { text += " (" + texts.needs + " " + line.missing.map(formulaText).join(", ") + ")"; }
    return text;
  }

  function showAssumptions() {
    box.textContent = "";
    tool().assumptions.forEach(function (a) {
      var id = "calc-a-" + a.key, row = el("p", {"class": "assumption"});
      row.appendChild(el("label", {"for": id}, a.label));
      var input = el("input", {id: id, "data-key": a.key, inputmode: "decimal",
        "aria-describedby": id + "-unit " + id + "-error"});
      input.value = a.value === null ? "" : shown(a.value);
      row.appendChild(input);
      row.appendChild(el("span", {id: id + "-unit", "class": "unit"}, a.unit + " (" + a.key + ")"));
      row.appendChild(el("span", {id: id + "-error", "class": "error"}));
      if (a.source) { row.appendChild(el("small", {"class": "source"}, a.source)); }
      box.appendChild(row);
    });
  }

  function compute() {
    var t = tool(), values = {}, errors = 0;
    t.assumptions.forEach(function (a) {
      var input = document.getElementById("calc-a-" + a.key);
      var parsed = model.parseValue(input.value, a.integer);
      var message = document.getElementById("calc-a-" + a.key + "-error");
      if (parsed.error) {
        errors += 1;
        input.setAttribute("aria-invalid", "true");
        message.textContent = texts[parsed.error] + " (" + (a.integer ? texts.expected_whole : texts.expected_number) + ")";
      } else {
        input.removeAttribute("aria-invalid");
        message.textContent = "";
        values[a.key] = parsed.value;
      }
    });
    var count = Number(inhabitants.value.replace(/\s/g, ""));
    var countError = document.getElementById("calc-inhabitants-error");
    if (!Number.isInteger(count) || count < 1) {
      errors += 1;
      inhabitants.setAttribute("aria-invalid", "true");
      countError.textContent = texts.inhabitants_error;
    } else {
      inhabitants.removeAttribute("aria-invalid");
      countError.textContent = "";
    }
    body.textContent = "";
    serverLine.textContent = "";
    if (errors) { status.textContent = ""; return; }
    var size = model.computeSize(t.model, values, t.offers, count);
    size.lines.forEach(function (line) {
      var row = el("tr", {"data-key": line.key, "data-value": line.value === null ? "" : String(line.value)});
      row.appendChild(el("th", {scope: "row"}, texts["line." + line.key] || line.key));
      row.appendChild(el("td", {"class": "value"}, valueText(line)));
      row.appendChild(el("td", {"class": "formula"}, formulaText(line.formula)));
      body.appendChild(row);
    });
    serverLine.setAttribute("data-server", size.server ? size.server.name : "");
    serverLine.textContent = texts.server_line.replace("{server}", size.server ? size.server.label[lang] : texts.no_offer);
    status.textContent = texts.status.replace("{tool}", t.title).replace("{count}", model.number(count, lang));
  }

  function fromHash() {
    var name = decodeURIComponent(window.location.hash.slice(1));
    if (data.tools.some(function (t) { return t.name === name; })) { toolSelect.value = name; }
  }

  fromHash();
  showAssumptions();
  compute();
  toolSelect.addEventListener("change", function () { showAssumptions(); compute(); });
  // A new tool fires "input" before "change": its fields are built on "change", then computed.
  document.getElementById("calculator").addEventListener("input", function (event) {
    if (event.target !== toolSelect) { compute(); }
  });
  window.addEventListener("hashchange", function () { fromHash(); showAssumptions(); compute(); });
}());
