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
    var resumeAfterRestart = false;
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
        start();
      } else if (!isLive && hls) {
        hls.destroy();
        hls = null;
      }
    }

    // One hls.js instance per broadcast. Fatal errors follow hls.js's recovery
    // advice (reload on network errors, rebuild the media buffer on media errors);
    // anything else restarts the player at the next poll, and playback resumes
    // there if the viewer had started it.
    function start() {
      var resume = resumeAfterRestart;
      resumeAfterRestart = false;
      hls = new window.Hls({ enableWorker: true, lowLatencyMode: false });
      hls.on(window.Hls.Events.MANIFEST_PARSED, function () {
        if (resume) { video.play().catch(function () {}); }
      });
      hls.on(window.Hls.Events.ERROR, function (event, data) {
        if (!data.fatal) { return; }
        window.console.warn("hls.js fatal error: " + data.type + " " + data.details);
        if (data.type === window.Hls.ErrorTypes.NETWORK_ERROR) {
          hls.startLoad();
        } else if (data.type === window.Hls.ErrorTypes.MEDIA_ERROR) {
          hls.recoverMediaError();
        } else {
          resumeAfterRestart = !video.paused;
          hls.destroy(); hls = null; live = null;
        }
      });
      hls.loadSource(playlist);
      hls.attachMedia(video);
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
