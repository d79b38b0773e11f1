/* Checks a transparency-log proof in the browser: nothing pasted here is sent to the server.
 *
 * Inclusion: RFC 9162 section 2.1.3.2 with WebCrypto SHA-256. Checkpoint: the C2SP signed note,
 * Ed25519 with WebCrypto where the browser has it. The page's messages come translated from the
 * template (data-msg-* attributes), so this file holds no words shown to a person.
 */
(function () {
  "use strict";

  var form = document.getElementById("tlog-verify-form");
  if (!form) return;
  var input = document.getElementById("tlog-proof");
  var out = document.getElementById("tlog-result");
  var msgs = out.dataset;
  var enc = new TextEncoder();

  function msg(name, values) {
    var text = msgs["msg" + name.charAt(0).toUpperCase() + name.slice(1)] || name;
    Object.keys(values || {}).forEach(function (k) {
      text = text.split("{" + k + "}").join(String(values[k]));
    });
    return text;
  }

  function unb64(text) {
    if (typeof text !== "string" || !/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4) {
      throw new Error(msg("badBase64"));
    }
    var bin = atob(text);
    var bytes = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    return bytes;
  }

  function hex(bytes) {
    return Array.prototype.map.call(bytes, function (b) {
      return ("0" + b.toString(16)).slice(-2);
    }).join("");
  }

  function concat(parts) {
    var size = parts.reduce(function (n, p) { return n + p.length; }, 0);
    var all = new Uint8Array(size);
    var at = 0;
    parts.forEach(function (p) { all.set(p, at); at += p.length; });
    return all;
  }

  function equal(a, b) {
    if (a.length !== b.length) return false;
    for (var i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
    return true;
  }

  async function sha256(bytes) {
    return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  }

  function node(left, right) {
    return sha256(concat([new Uint8Array([1]), left, right]));
  }

  /* RFC 9162 section 2.1.3.2. Indices can exceed 2^31: plain arithmetic, no bitwise operators. */
  async function rootFromInclusion(index, size, leaf, path) {
    if (index < 0 || index >= size) return null;
    var fn = index;
    var sn = size - 1;
    var r = leaf;
    for (var i = 0; i < path.length; i++) {
      if (sn === 0) return null;
      if (fn % 2 === 1 || fn === sn) {
        r = await node(path[i], r);
        if (fn % 2 === 0) {
          while (!(fn % 2 === 1 || fn === 0)) {
            fn = Math.floor(fn / 2);
            sn = Math.floor(sn / 2);
          }
        }
      } else {
        r = await node(r, path[i]);
      }
      fn = Math.floor(fn / 2);
      sn = Math.floor(sn / 2);
    }
    return sn === 0 ? r : null;
  }

  function parseVkey(vkey) {
    /* name+id+base64: a note's key name holds no '+', but the base64 key may. */
    var text = String(vkey || "").trim();
    var first = text.indexOf("+");
    var second = first < 0 ? -1 : text.indexOf("+", first + 1);
    if (first < 1 || second < 0) throw new Error(msg("badKey"));
    var name = text.slice(0, first);
    var id = text.slice(first + 1, second);
    var material = unb64(text.slice(second + 1));
    if (!/^[0-9a-f]{8}$/.test(id) || material.length !== 33 || material[0] !== 1) {
      throw new Error(msg("badKey"));
    }
    return { name: name, id: id, key: material.slice(1) };
  }

  function parseNote(note) {
    var text = String(note || "");
    var cut = text.indexOf("\n\n");
    if (cut < 0) throw new Error(msg("badNote"));
    var body = text.slice(0, cut + 1);
    var signatures = [];
    text.slice(cut + 2).split("\n").forEach(function (line) {
      if (!line) return;
      var m = /^\u2014 (\S+) ([A-Za-z0-9+/=]+)$/.exec(line);
      if (!m) throw new Error(msg("badNote"));
      var raw = unb64(m[2]);
      if (raw.length < 5) throw new Error(msg("badNote"));
      signatures.push({ name: m[1], id: hex(raw.slice(0, 4)), sig: raw.slice(4) });
    });
    var lines = body.split("\n");
    if (lines.length < 4 || !/^[1-9][0-9]*$|^0$/.test(lines[1])) throw new Error(msg("badNote"));
    return {
      body: body,
      origin: lines[0],
      size: Number(lines[1]),
      root: unb64(lines[2]),
      signatures: signatures,
    };
  }

  async function verifySignature(note, vkey) {
    var expectedId = hex((await sha256(concat([
      enc.encode(vkey.name), new Uint8Array([10, 1]), vkey.key,
    ]))).slice(0, 4));
    if (expectedId !== vkey.id) return { ok: false, text: msg("keyIdWrong") };
    var line = note.signatures.filter(function (s) {
      return s.name === vkey.name && s.id === vkey.id;
    })[0];
    if (!line) return { ok: false, text: msg("noSignature", { name: vkey.name }) };
    var key;
    try {
      key = await crypto.subtle.importKey("raw", vkey.key, { name: "Ed25519" }, false, ["verify"]);
    } catch (e) {
      return { ok: null, text: msg("noEd25519") };
    }
    var good = await crypto.subtle.verify({ name: "Ed25519" }, key, line.sig, enc.encode(note.body));
    return good ? { ok: true, text: msg("signatureGood") } : { ok: false, text: msg("signatureBad") };
  }

  function field(proof, name, kind) {
    var value = proof[name];
    var fine = kind === "int" ? Number.isSafeInteger(value) && value >= 0
      : kind === "list" ? Array.isArray(value) : typeof value === "string";
    if (!fine) throw new Error(msg("missingField", { field: name }));
    return value;
  }

  async function check(text) {
    var proof;
    try {
      proof = JSON.parse(text);
    } catch (e) {
      throw new Error(msg("badJson"));
    }
    if (!proof || typeof proof !== "object") throw new Error(msg("badJson"));
    var index = field(proof, "log_index", "int");
    var size = field(proof, "tree_size", "int");
    var leaf = unb64(field(proof, "leaf_hash", "str"));
    var path = field(proof, "inclusion_proof", "list").map(unb64);
    var root = unb64(field(proof, "root_hash", "str"));
    var note = parseNote(field(proof, "checkpoint", "str"));
    var vkey = parseVkey(field(proof, "key", "str"));
    var lines = [];
    var computed = leaf.length === 32 ? await rootFromInclusion(index, size, leaf, path) : null;
    var included = computed !== null && equal(computed, root);
    lines.push({ ok: included, text: included ? msg("inclusionGood", { index: index, size: size })
      : msg("inclusionBad") });
    var matches = note.size === size && equal(note.root, root) && note.origin === vkey.name;
    lines.push({ ok: matches, text: matches ? msg("checkpointGood") : msg("checkpointBad") });
    lines.push(await verifySignature(note, vkey));
    return lines;
  }

  async function publishedKey() {
    try {
      var response = await fetch(out.dataset.keyUrl, { credentials: "omit", cache: "no-store" });
      return response.ok ? (await response.text()).trim() : null;
    } catch (e) {
      return null;
    }
  }

  function show(lines, verdict) {
    out.textContent = "";
    var head = document.createElement("p");
    head.id = "tlog-verdict";
    head.className = "verdict " + verdict;
    head.textContent = msg(verdict === "good" ? "verified" : verdict === "bad" ? "notVerified"
      : "partly");
    out.appendChild(head);
    var list = document.createElement("ul");
    lines.forEach(function (line) {
      var item = document.createElement("li");
      item.className = line.ok === true ? "good" : line.ok === false ? "bad" : "unknown";
      item.textContent = line.text;
      list.appendChild(item);
    });
    out.appendChild(list);
  }

  async function run() {
    var text = input.value.trim();
    out.textContent = "";
    if (!text) return;
    var lines;
    try {
      lines = await check(text);
    } catch (e) {
      show([{ ok: false, text: e.message }], "bad");
      return;
    }
    var key = await publishedKey();
    var proofKey = JSON.parse(text).key.trim();
    if (key !== null) {
      lines.push(key === proofKey ? { ok: true, text: msg("keyPublished") }
        : { ok: false, text: msg("keyNotPublished") });
    }
    var failed = lines.some(function (l) { return l.ok === false; });
    var unsure = lines.some(function (l) { return l.ok === null; });
    show(lines, failed ? "bad" : unsure ? "partly" : "good");
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    run();
  });

  /* A receipt links here with the proof after the '#': browsers never send that part to a server. */
  function fromFragment() {
    if (location.hash.length > 1) {
      try {
        input.value = decodeURIComponent(location.hash.slice(1));
      } catch (e) {
        input.value = location.hash.slice(1);
      }
      run();
    }
  }
  window.addEventListener("hashchange", fromFragment);
  fromFragment();
})();
