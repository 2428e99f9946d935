// The "add files" form: sends the files with the token in an Authorization header (never
// in a URL, never stored) and shows the job's events as the server streams them.
"use strict";
(() => {
  const form = document.getElementById("upload");
  if (!form || !window.fetch || !window.TextDecoder) return;
  form.hidden = false;
  const log = form.querySelector(".upload-log");
  const button = form.querySelector("button");
  const lines = new Map();

  function say(key, text, kind) {
    let item = lines.get(key);
    if (!item) {
      item = document.createElement("li");
      lines.set(key, item);
      log.append(item);
    }
    item.textContent = text;
    item.className = kind || "";
  }

  function show(event) {
    if (event.event === "received") {
      say("received", `ලැබුණි · received: ${event.files.join(", ")}`);
    } else if (event.event === "page") {
      say(event.file, `${event.file}: OCR ${event.page} / ${event.pages}`);
    } else if (event.event === "file" && event.error) {
      say(event.file, `${event.error}`, "failed");
    } else if (event.event === "file") {
      say(event.file, `${event.file}: ${event.passages} passages, ${event.added} added` +
        (event.skipped ? `, ${event.skipped} already there` : ""), "added");
    } else if (event.event === "done") {
      say("done", `අවසන් · done: ${event.added} added`, "done");
    } else if (event.event === "error") {
      say("error", event.error, "failed");
    }
  }

  form.addEventListener("submit", async (submitted) => {
    submitted.preventDefault();
    const data = new FormData(form);
    const token = data.get("token");
    const index = data.get("index");
    data.delete("token");
    data.delete("index");
    log.replaceChildren();
    lines.clear();
    button.disabled = true;
    say("sending", "යවමින් · sending...");
    try {
      const response = await fetch(`/api/indexes/${encodeURIComponent(index)}/files`, {
        method: "POST",
        headers: { Authorization: `Bearer ${token}` },
        body: data,
      });
      if (!response.ok) {
        const body = await response.json().catch(() => ({ error: response.statusText }));
        say("sending", `${response.status}: ${body.error}`, "failed");
        return;
      }
      say("sending", "යැව්වා · sent");
      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      let pending = "";
      for (;;) {
        const { value, done } = await reader.read();
        pending += decoder.decode(value || new Uint8Array(), { stream: !done });
        const complete = pending.split("\n");
        pending = complete.pop();
        complete.filter((line) => line.trim()).forEach((line) => show(JSON.parse(line)));
        if (done) break;
      }
    } catch (error) {
      say("sending", `${error}`, "failed");
    } finally {
      button.disabled = false;
    }
  });
})();
