// ferry upload page: plain JavaScript, no build step. For each volume directory chosen
// (the folder that holds SHA256.sig), post the signature to an import job, then send each
// file the signed list names, resuming from the offset the server reports, with a
// progress bar per file; then follow the job until its import is done.
"use strict";
(function () {
  const drop = document.getElementById("drop");
  const csrf = drop.dataset.csrf;
  const picker = document.getElementById("picker");
  const volumesEl = document.getElementById("volumes");
  const resultEl = document.getElementById("result");

  function api(method, url, body, headers) {
    return fetch(url, {
      method, body, credentials: "same-origin",
      headers: Object.assign({ "X-CSRF-Token": csrf }, headers || {}),
    }).then(async (r) => {
      const text = await r.text();
      let json = null;
      try { json = JSON.parse(text); } catch (e) { /* not JSON */ }
      if (!r.ok) throw new Error((json && json.error) || (r.status + " " + text));
      return json;
    });
  }

  // Group the chosen files by volume: the directory holding SHA256.sig.
  function group(entries) {
    const vols = new Map();
    for (const [path, file] of entries) {
      const m = path.match(/^(.*?)\/?SHA256\.sig$/);
      if (m) vols.set(m[1], new Map());
    }
    for (const [path, file] of entries) {
      for (const [dir, files] of vols) {
        const prefix = dir ? dir + "/" : "";
        if (path.startsWith(prefix)) {
          const rel = path.slice(prefix.length);
          if (!rel.includes("/") || rel.startsWith("packs/")) files.set(rel, file);
        }
      }
    }
    return vols;
  }

  function sendFile(key, path, file, offset, bar) {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open("PATCH", "/api/v1/uploads/" + key + "/" + path);
      xhr.setRequestHeader("X-CSRF-Token", csrf);
      xhr.setRequestHeader("Upload-Offset", String(offset));
      xhr.setRequestHeader("Upload-Length", String(file.size));
      xhr.setRequestHeader("Content-Type", "application/offset+octet-stream");
      xhr.upload.onprogress = (e) => { bar.value = offset + e.loaded; };
      xhr.onload = () => {
        let j = null;
        try { j = JSON.parse(xhr.responseText); } catch (e) { /* ignore */ }
        if (xhr.status === 200) { bar.value = file.size; resolve(j); }
        else reject(new Error((j && j.error) || ("HTTP " + xhr.status)));
      };
      xhr.onerror = () => reject(new Error("connection lost: choose the volumes again to resume"));
      xhr.send(file.slice(offset));
    });
  }

  function row(parent, label, max) {
    const d = document.createElement("div");
    d.className = "file";
    const l = document.createElement("span"); l.textContent = label;
    const bar = document.createElement("progress"); bar.max = Math.max(max, 1); bar.value = 0;
    const s = document.createElement("span");
    d.append(l, bar, s); parent.append(d);
    return { bar, status: s };
  }

  async function uploadVolume(job, dir, files) {
    const box = document.createElement("div");
    box.className = "volume";
    const title = document.createElement("strong");
    title.textContent = dir || "(volume)";
    const msg = document.createElement("div");
    box.append(title, msg);
    volumesEl.append(box);
    const sig = files.get("SHA256.sig");
    let view = await api("POST", "/api/v1/imports/" + job + "/volumes", sig);
    title.textContent = (dir || "volume") + (view.volume ? " — volume " + view.volume : "");
    // Head files first, then packs: the server takes no pack before the head is checked.
    for (const f of view.files) {
      const file = files.get(f.path);
      const r = row(box, f.path, file ? file.size : 1);
      if (f.complete) { r.bar.value = r.bar.max; r.status.textContent = "already here"; continue; }
      if (!file) throw new Error(f.path + " is missing from " + (dir || "the volume"));
      if (view.state !== "head" && view.state !== "receiving") break;
      r.bar.value = f.received;
      view = await sendFile(view.key, f.path, file, f.received, r.bar);
      r.status.textContent = "checked";
      r.status.className = "ok";
    }
    msg.textContent = view.state + (view.message ? ": " + view.message : "");
    return view;
  }

  async function start(entries) {
    volumesEl.textContent = "";
    resultEl.textContent = "";
    const vols = group(entries);
    if (vols.size === 0) { resultEl.textContent = "No volume found: a volume directory holds SHA256.sig."; resultEl.className = "error"; return; }
    try {
      const job = (await api("POST", "/api/v1/imports")).id;
      for (const [dir, files] of vols) await uploadVolume(job, dir, files);
      resultEl.textContent = "Uploaded; importing…";
      for (;;) {
        const j = await api("GET", "/api/v1/imports/" + job);
        if (j.phase) resultEl.textContent = j.phase.name + (j.phase.total ? " " + Math.round(100 * j.phase.done / j.phase.total) + "%" : "");
        if (j.state === "done") {
          let text = "Import " + j.result;
          if (j.remaining.length) text += "; volumes still needed: " + j.remaining.join(", ");
          if (j.error) text += ": " + j.error;
          resultEl.textContent = text;
          resultEl.className = j.exit_code === 0 ? "ok" : "error";
          resultEl.id = "result"; resultEl.dataset.result = j.result;
          break;
        }
        await new Promise((r) => setTimeout(r, 500));
      }
    } catch (e) {
      resultEl.textContent = e.message;
      resultEl.className = "error";
      resultEl.dataset.result = "error";
    }
  }

  picker.addEventListener("change", () => {
    start(Array.from(picker.files).map((f) => [f.webkitRelativePath || f.name, f]));
  });

  // Drag and drop of directories.
  function walk(entry, prefix, out) {
    return new Promise((resolve) => {
      if (entry.isFile) {
        entry.file((f) => { out.push([prefix + entry.name, f]); resolve(); }, () => resolve());
      } else if (entry.isDirectory) {
        const reader = entry.createReader();
        const all = [];
        const next = () => reader.readEntries(async (batch) => {
          if (batch.length === 0) {
            for (const e of all) await walk(e, prefix + entry.name + "/", out);
            resolve();
          } else { all.push(...batch); next(); }
        }, () => resolve());
        next();
      } else resolve();
    });
  }
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", async (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    const out = [];
    const items = Array.from(e.dataTransfer.items).map((i) => i.webkitGetAsEntry()).filter(Boolean);
    for (const it of items) await walk(it, "", out);
    start(out);
  });
})();
