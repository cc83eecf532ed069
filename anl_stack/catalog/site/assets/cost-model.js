/* The cost model of anl-stack (anl_stack/costs/model.py), ported line for line to plain JavaScript
   so that the catalog's calculator works from a folder, without a server.
   tests/unit/test_catalog_site_costjs.py runs both on the same inputs and wants the same result:
   change one, change the other. Numbers are rounded as Python rounds them (half to even on the
   exact binary value), which is why the small decimal helpers below use BigInt. */
(function (root) {
  "use strict";

  var COMMON = ["horizon_months", "hourly_cost_eur", "preparation_hours", "admin_hours_per_month",
    "egress_eur_per_gb", "ram_mb", "app_disk_gb", "deploy_minutes"];
  var MODELS = {
    streaming: ["viewers", "hours_per_month", "bitrate_kbps", "retention_months"],
    video: ["video_hours_per_month", "bitrate_kbps", "resolutions", "watched_hours_per_month"],
    files: ["accounts", "quota_gb"],
    social: ["accounts", "media_gb_per_account_per_month"],
    polls: []
  };
  var GB_PER_KBIT = 1 / 8 / 1000000;

  // --- exact decimals: x === D / 10^k, D a BigInt ----------------------------------------------
  function exact(x) {
    var view = new DataView(new ArrayBuffer(8));
    view.setFloat64(0, x);
    var hi = view.getUint32(0), lo = view.getUint32(4);
    var e = (hi >>> 20) & 0x7ff;
    var m = (BigInt(hi & 0xfffff) << 32n) + BigInt(lo);
    if (e === 0) { e = 1; } else { m += 1n << 52n; }
    e -= 1075;
    if (e >= 0) { return [m << BigInt(e), 0]; }
    return [m * 5n ** BigInt(-e), -e];
  }

  // |x| rounded to d decimals, half to even, as an integer N (the value is N / 10^d).
  function scaled(x, d) {
    var ex = exact(Math.abs(x)), D = ex[0], k = ex[1];
    if (k <= d) { return D * 10n ** BigInt(d - k); }
    var div = 10n ** BigInt(k - d), q = D / div, r = D % div, half = div / 2n;
    if (r > half || (r === half && q % 2n === 1n)) { q += 1n; }
    return q;
  }

  function withPoint(N, d, negative) {
    var s = N.toString();
    if (d > 0) {
      while (s.length <= d) { s = "0" + s; }
      s = s.slice(0, s.length - d) + "." + s.slice(s.length - d);
    }
    return (negative && N !== 0n ? "-" : "") + s;
  }

  // Python's round(x, d) for a float.
  function round(x, d) {
    return Number(withPoint(scaled(x, d), d, x < 0));
  }

  // Python's f"{x:.{p}g}".
  function formatG(x, p) {
    if (x === 0) { return "0"; }
    var ex = exact(Math.abs(x)), D = ex[0], k = ex[1], s = D.toString();
    var X = s.length - 1 - k, q;
    if (s.length > p) {
      var div = 10n ** BigInt(s.length - p), r = D % div, half = div / 2n;
      q = D / div;
      if (r > half || (r === half && q % 2n === 1n)) { q += 1n; }
      if (q.toString().length > p) { q /= 10n; X += 1; }
    } else {
      q = D * 10n ** BigInt(p - s.length);
    }
    var sign = x < 0 ? "-" : "", digits = q.toString(), text;
    if (X >= -4 && X < p) {
      text = withPoint(q, p - 1 - X, false);
      if (text.indexOf(".") >= 0) { text = text.replace(/0+$/, "").replace(/\.$/, ""); }
      return sign + text;
    }
    var mantissa = digits.slice(0, 1) + (p > 1 ? "." + digits.slice(1) : "");
    mantissa = mantissa.indexOf(".") >= 0 ? mantissa.replace(/0+$/, "").replace(/\.$/, "") : mantissa;
    var exponent = Math.abs(X).toString();
    return sign + mantissa + "e" + (X < 0 ? "-" : "+") + (exponent.length < 2 ? "0" + exponent : exponent);
  }

  // anl_stack/costs/text.py number(): "1,234.5" in English, "1 234,5" in French, at most 2 decimals.
  function number(value, lang) {
    var text = withPoint(scaled(value, 2), 2, value < 0);
    var point = text.indexOf("."), whole = text.slice(0, point), decimals = text.slice(point + 1);
    var sign = whole.charAt(0) === "-" ? "-" : "";
    whole = whole.replace("-", "").replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    text = (sign + whole + "." + decimals).replace(/0+$/, "").replace(/\.$/, "");
    if (lang === "fr") { text = text.replace(/,/g, "\u202f").replace(".", ","); }
    return text;
  }

  // --- the model ------------------------------------------------------------------------------
  function has(object, key) { return Object.prototype.hasOwnProperty.call(object, key); }
  function known(v, key) { return has(v, key) && v[key] !== null && v[key] !== undefined; }
  function get(v, key) { return known(v, key) ? v[key] : null; }

  function requiredKeys(model) { return COMMON.concat(MODELS[model]); }

  function line(key, value, unit, formula, missing) {
    var seen = {}, unique = [];
    (missing || []).forEach(function (m) { if (!has(seen, m)) { seen[m] = true; unique.push(m); } });
    unique.sort(function (a, b) { return a < b ? -1 : a > b ? 1 : 0; });
    return {key: key, value: value === null ? null : round(value, 3), unit: unit, formula: formula, missing: unique};
  }

  function product(v, keys, factor) {
    var missing = keys.filter(function (k) { return !known(v, k); });
    if (missing.length) { return [null, missing]; }
    var result = 1;
    keys.forEach(function (k) { result *= v[k]; });
    return [result * (factor === undefined ? 1.0 : factor), []];
  }

  function drivers(model, v) {
    var lines = [], r;
    if (model === "streaming") {
      r = product(v, ["viewers", "bitrate_kbps"], 1 / 1000);
      lines.push(line("peak_mbps", r[0], "Mbit/s", "viewers × bitrate_kbps / 1000", r[1]));
      r = product(v, ["viewers", "bitrate_kbps", "hours_per_month"], 3600 * GB_PER_KBIT);
      lines.push(line("egress_gb_per_month", r[0], "GB/month",
        "viewers × bitrate_kbps × hours_per_month × 3600 / 8 / 10^6", r[1]));
      r = product(v, ["bitrate_kbps", "hours_per_month"], 3600 * GB_PER_KBIT);
      lines.push(line("storage_gb_per_month", r[0], "GB/month",
        "bitrate_kbps × hours_per_month × 3600 / 8 / 10^6 (one recording per sitting)", r[1]));
    } else if (model === "video") {
      lines.push(line("peak_mbps", null, "Mbit/s", "not modelled (PeerTube spreads viewers over P2P)"));
      r = product(v, ["watched_hours_per_month", "bitrate_kbps"], 3600 * GB_PER_KBIT);
      lines.push(line("egress_gb_per_month", r[0], "GB/month",
        "watched_hours_per_month × bitrate_kbps × 3600 / 8 / 10^6", r[1]));
      r = product(v, ["video_hours_per_month", "bitrate_kbps", "resolutions"], 3600 * GB_PER_KBIT);
      lines.push(line("storage_gb_per_month", r[0], "GB/month",
        "video_hours_per_month × bitrate_kbps × resolutions × 3600 / 8 / 10^6", r[1]));
    } else if (model === "files") {
      lines.push(line("peak_mbps", null, "Mbit/s", "not modelled"));
      lines.push(line("egress_gb_per_month", null, "GB/month", "not modelled"));
      r = product(v, ["accounts", "quota_gb"]);
      lines.push(line("storage_gb_full", r[0], "GB", "accounts × quota_gb (every quota filled)", r[1]));
    } else if (model === "social") {
      lines.push(line("peak_mbps", null, "Mbit/s", "not modelled"));
      lines.push(line("egress_gb_per_month", null, "GB/month", "not modelled"));
      r = product(v, ["accounts", "media_gb_per_account_per_month"]);
      lines.push(line("storage_gb_per_month", r[0], "GB/month", "accounts × media_gb_per_account_per_month", r[1]));
    } else {
      lines.push(line("peak_mbps", null, "Mbit/s", "not modelled"));
      lines.push(line("egress_gb_per_month", null, "GB/month", "not modelled"));
    }
    return lines;
  }

  function stored(model, v, byKey) {
    var app = get(v, "app_disk_gb"), data, miss, formula;
    if (model === "files") {
      data = byKey.storage_gb_full.value;
      miss = byKey.storage_gb_full.missing.slice();
      formula = "app_disk_gb + storage_gb_full";
    } else if (has(byKey, "storage_gb_per_month")) {
      var growth = byKey.storage_gb_per_month.value, months = get(v, "horizon_months");
      miss = byKey.storage_gb_per_month.missing.slice();
      formula = "app_disk_gb + storage_gb_per_month × horizon_months";
      if (model === "streaming") {
        var keep = get(v, "retention_months");
        months = months === null || keep === null ? null : Math.min(months, keep);
        formula = "app_disk_gb + storage_gb_per_month × min(horizon_months, retention_months)";
        ["horizon_months", "retention_months"].forEach(function (k) { if (!known(v, k)) { miss.push(k); } });
      } else if (months === null) {
        miss.push("horizon_months");
      }
      data = growth === null || months === null ? null : growth * months;
    } else {
      data = 0.0; miss = []; formula = "app_disk_gb";
    }
    if (app === null) { miss.push("app_disk_gb"); }
    var total = app === null || data === null ? null : app + data;
    var result = line("disk_gb", total, "GB", formula, miss);
    result.known_part = round((app || 0.0) + (data || 0.0), 3);
    return result;
  }

  function chooseOffer(offers, ramMb, diskGb, peakMbps) {
    var unchecked = [];
    if (ramMb === null) { unchecked.push("ram_mb"); }
    if (diskGb === null) { unchecked.push("disk_gb"); }
    if (peakMbps === null) { unchecked.push("peak_mbps"); }
    var best = null;
    offers.forEach(function (o) {
      var fits = (ramMb === null || o.ram_mb >= ramMb) && (diskGb === null || o.disk_gb >= diskGb) &&
        (peakMbps === null || o.bandwidth_mbps >= peakMbps);
      if (fits && (best === null || o.eur_per_month < best.eur_per_month)) { best = o; }
    });
    return [best, unchecked];
  }

  function sum(parts) {
    var total = 0.0, unknown = [];
    parts.forEach(function (p) { if (p[1] === null) { unknown.push(p[0]); } else { total += p[1]; } });
    return [total, unknown];
  }

  function computeSize(model, values, offers, inhabitants) {
    var v = Object.assign({}, values), r;
    var lines = drivers(model, v), byKey = {};
    lines.forEach(function (l) { byKey[l.key] = l; });
    var disk = stored(model, v, byKey);
    lines.push(disk);
    var peak = byKey.peak_mbps.value;
    var diskNeed = disk.value !== null ? disk.value : (disk.known_part || null);
    var chosen = chooseOffer(offers, get(v, "ram_mb"), diskNeed, peak), offer = chosen[0], unchecked = chosen[1];
    if (disk.value === null && diskNeed !== null) { unchecked.push("disk_gb beyond " + formatG(diskNeed, 3) + " GB"); }
    var hosting = offer === null ? null : Number(offer.eur_per_month);
    var why = "cheapest offer with ram_mb, disk_gb and peak_mbps covered";
    if (unchecked.length) { why += " (not checked: " + unchecked.join(", ") + ")"; }
    lines.push(line("hosting_eur_per_month", hosting, "EUR/month", why, offer !== null ? [] : ["an offer large enough"]));
    var egress = byKey.egress_gb_per_month.value;
    r = product({egress_gb_per_month: egress, egress_eur_per_gb: get(v, "egress_eur_per_gb")},
      ["egress_gb_per_month", "egress_eur_per_gb"]);
    var traffic = r[0];
    lines.push(line("traffic_eur_per_month", traffic, "EUR/month", "egress_gb_per_month × egress_eur_per_gb", r[1]));
    var setupParts = [["deploy_minutes", known(v, "deploy_minutes") ? v.deploy_minutes / 60 : null],
      ["preparation_hours", get(v, "preparation_hours")]];
    var formula = "deploy_minutes / 60 + preparation_hours";
    if (has(v, "app_setup_hours")) {
      setupParts.push(["app_setup_hours", get(v, "app_setup_hours")]);
      formula += " + app_setup_hours";
    }
    var s = sum(setupParts), unknown = s[1];
    var setup = line("setup_hours", unknown.length ? null : s[0], "h", formula, unknown);
    setup.known_part = round(s[0], 3);
    lines.push(setup);
    r = product({setup_hours: setup.value, hourly_cost_eur: get(v, "hourly_cost_eur")}, ["setup_hours", "hourly_cost_eur"]);
    lines.push(line("setup_eur", r[0], "EUR", "setup_hours × hourly_cost_eur", unknown.concat(r[1])));
    r = product(v, ["admin_hours_per_month", "hourly_cost_eur"]);
    var admin = r[0];
    lines.push(line("admin_eur_per_month", admin, "EUR/month", "admin_hours_per_month × hourly_cost_eur", r[1]));
    s = sum([["hosting_eur_per_month", hosting], ["traffic_eur_per_month", traffic], ["admin_eur_per_month", admin]]);
    var total = line("total_eur_per_month", s[1].length ? null : s[0], "EUR/month", "hosting + traffic + administration", s[1]);
    total.known_part = round(s[0], 3);
    lines.push(total);
    return {inhabitants: inhabitants, server: offer === null ? null : Object.assign({}, offer), lines: lines};
  }

  function compute(model, values, offers, sizes) {
    if (!has(MODELS, model)) { throw new Error("unknown cost model '" + model + "'"); }
    return (sizes || [2000, 10000, 50000]).map(function (n) { return computeSize(model, values, offers, n); });
  }

  // A value typed into the calculator, checked as `plugins cost --set KEY=VALUE` checks it:
  // {value} (null for unknown) or {error: "not_a_number" | "not_allowed"}.
  function parseValue(text, integer) {
    var t = String(text).trim();
    if (t === "" || t === "unknown" || t === "inconnu") { return {value: null}; }
    var x = Number(t.replace(/\s/g, "").replace(",", "."));
    if (t.replace(/\s/g, "") === "" || isNaN(x)) { return {error: "not_a_number"}; }
    if (!isFinite(x) || x < 0 || (integer && !Number.isInteger(x))) { return {error: "not_allowed"}; }
    return {value: x};
  }

  var api = {compute: compute, computeSize: computeSize, requiredKeys: requiredKeys, round: round,
    formatG: formatG, number: number, parseValue: parseValue, MODELS: MODELS};
  if (typeof module !== "undefined" && module.exports) { module.exports = api; } else { root.AnlCostModel = api; }
}(this));
