// Live list: follows the watch stream and re-renders the rows when a
// finding changes. Without fetch streaming the page stays as served.
(function () {
  "use strict";
  var body = document.getElementById("findings");
  var badge = document.getElementById("live");
  if (!body || !window.fetch || !window.ReadableStream || !window.TextDecoder) return;
  var pending = null;
  function refresh() {
    fetch("/?fragment=rows", { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) { body.innerHTML = html; })
      .catch(function () {});
  }
  function soon() {
    if (pending) return;
    pending = setTimeout(function () { pending = null; refresh(); }, 300);
  }
  function live(on) { if (badge) badge.hidden = !on; }
  function watch() {
    fetch("/v1/findings:watch", { credentials: "same-origin" })
      .then(function (r) {
        if (!r.ok || !r.body) throw new Error("watch: " + r.status);
        live(true);
        var reader = r.body.getReader(), dec = new TextDecoder(), buf = "";
        function pump() {
          return reader.read().then(function (x) {
            if (x.done) throw new Error("watch ended");
            buf += dec.decode(x.value, { stream: true });
            var i;
            while ((i = buf.indexOf("\n")) >= 0) { buf = buf.slice(i + 1); soon(); }
            return pump();
          });
        }
        return pump();
      })
      .catch(function () { live(false); setTimeout(watch, 5000); });
  }
  watch();
  setInterval(refresh, 30000); // ages
})();
