// Live player: shows "no broadcast in progress" while the channel's playlist
// is absent, and plays it with hls.js (Media Source Extensions) or, where the
// browser reads HLS itself, natively. The markup works without this script.
(function () {
  "use strict";
  var POLL_MS = 5000;

  function setup(section) {
    var video = section.querySelector("video");
    var status = section.querySelector(".status");
    var playlist = section.getAttribute("data-playlist");
    var live = null;
    var hls = null;
    var useHlsJs = window.Hls && window.Hls.isSupported();

    if (useHlsJs) {
      // hls.js feeds the element itself: drop the native <source>.
      var source = video.querySelector("source");
      if (source) { source.remove(); video.load(); }
    }

    function show(isLive) {
      if (isLive === live) { return; }
      live = isLive;
      status.textContent = section.getAttribute(isLive ? "data-live" : "data-idle");
      section.classList.toggle("idle", !isLive);
      video.hidden = !isLive;
      if (isLive && useHlsJs && !hls) {
        hls = new window.Hls({ enableWorker: true, lowLatencyMode: false });
        hls.loadSource(playlist);
        hls.attachMedia(video);
        hls.on(window.Hls.Events.ERROR, function (event, data) {
          if (data.fatal) { hls.destroy(); hls = null; live = null; }
        });
      } else if (!isLive && hls) {
        hls.destroy();
        hls = null;
      }
    }

    function poll() {
      fetch(playlist, { method: "HEAD", cache: "no-store" })
        .then(function (response) { show(response.ok); })
        .catch(function () { show(false); })
        .then(function () { window.setTimeout(poll, POLL_MS); });
    }
    poll();
  }

  Array.prototype.forEach.call(document.querySelectorAll("section.channel"), setup);
})();
