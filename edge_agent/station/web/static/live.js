// Live parts of a page: an element with data-live="/path" and data-event="name" follows the
// server-sent events of that path. Plain JavaScript, no library, nothing from the internet.
"use strict";
(function () {
  function follow(el) {
    var source = new EventSource(el.dataset.live);
    var state = document.getElementById("live-state");
    source.addEventListener(el.dataset.event, function (msg) {
      if (el.dataset.event === "wall") {
        JSON.parse(msg.data).forEach(function (t) {
          var img = el.querySelector('img[data-tile="' + t.device + "/" + t.camera + '"]');
          if (img && !img.src.endsWith("v=" + t.v)) {
            img.src = "/wall/" + t.device + "/" + t.camera + ".jpg?v=" + t.v;
          }
        });
      } else {
        el.innerHTML = msg.data;
      }
      el.dataset.updated = String(Date.now());
      if (state) { state.textContent = "● " + new Date().toLocaleTimeString(); }
    });
    source.onerror = function () { if (state) { state.textContent = "○"; } };
  }
  document.querySelectorAll("[data-live]").forEach(follow);
})();
