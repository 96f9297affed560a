// Live parts of a page: an element with data-live="/path" and data-event="name" follows the
// server-sent events of that path. Plain JavaScript, no library, nothing from the internet.
"use strict";
(function () {
  var root = document.documentElement;
  var lang = root.lang || "vi";
  var clock = { hour12: false };
  if (root.dataset.zone) { clock.timeZone = root.dataset.zone; clock.timeZoneName = "short"; }
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
          var when = el.querySelector('time[data-tile-time="' + t.device + "/" + t.camera + '"]');
          if (when && t.at) { when.dateTime = t.at; when.textContent = t.at_text; }
        });
      } else {
        el.innerHTML = msg.data;
      }
      el.dataset.updated = String(Date.now());
      // The station's clock, not the browser's: the zone comes from <html data-zone>.
      if (state) { state.textContent = "● " + new Date().toLocaleTimeString(lang, clock); }
    });
    source.onerror = function () { if (state) { state.textContent = "○"; } };
  }
  document.querySelectorAll("[data-live]").forEach(follow);

  // Live look on a pole's page: while the button is on, the station asks the pole for a picture
  // a second and the page shows each new one; it stops by itself after 5 minutes.
  var look = document.getElementById("look");
  if (look) {
    var label = look.textContent, source = null, timer = null;
    var stop = function () {
      if (source) { source.close(); source = null; }
      clearTimeout(timer);
      look.textContent = label;
      look.setAttribute("aria-pressed", "false");
    };
    look.addEventListener("click", function () {
      if (source) { stop(); return; }
      source = new EventSource(look.dataset.look);
      look.textContent = look.dataset.stop;
      look.setAttribute("aria-pressed", "true");
      timer = setTimeout(stop, 5 * 60 * 1000);
      source.addEventListener("look", function (msg) {
        var cams = JSON.parse(msg.data);
        Object.keys(cams).forEach(function (cam) {
          var img = document.querySelector('img[data-cam="' + cam + '"]');
          if (img && cams[cam] && !img.src.endsWith("v=" + cams[cam])) {
            img.src = location.pathname + "/" + encodeURIComponent(cam) + "/snapshot.jpg?v=" + cams[cam];
            img.hidden = false;
          }
        });
        look.dataset.updated = String(Date.now());
      });
    });
  }
})();
