/* The live camera capture (subjects/templates/subjects/capture.html; docs/capture.md).
 *
 * Opens the camera with getUserMedia (no file upload on this path), shows each step of the challenge
 * in words, takes one frame per step (the first looking at the camera), and posts the frames as JPEG
 * with the challenge's one-time nonce. The frames are taken from the camera's unmirrored picture (the
 * preview is mirrored for comfort only). No framework, no inline script (CSP).
 */
(function () {
  "use strict";

  var root = document.getElementById("capture");
  if (!root) {
    return;
  }
  var video = document.getElementById("capture-video");
  var start = document.getElementById("capture-start");
  var form = document.getElementById("capture-form");
  var status = document.getElementById("capture-status");
  var instruction = document.getElementById("capture-instruction");
  var next = document.getElementById("capture-next");
  var steps = Array.prototype.slice.call(root.querySelectorAll("#capture-steps li"));
  // Seconds given to each step before its picture is taken (time to read and turn).
  var STEP_MS = parseInt(root.getAttribute("data-step-ms") || "2500", 10);
  var stream = null;

  function say(text) {
    status.textContent = text;
  }

  function sleep(ms) {
    return new Promise(function (resolve) {
      window.setTimeout(resolve, ms);
    });
  }

  function stopCamera() {
    if (stream) {
      stream.getTracks().forEach(function (track) {
        track.stop();
      });
      stream = null;
    }
  }

  function openCamera() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      return Promise.reject(new Error("no camera API"));
    }
    var constraints = { audio: false, video: { width: { ideal: 640 }, height: { ideal: 480 }, facingMode: "user" } };
    return navigator.mediaDevices.getUserMedia(constraints).then(function (s) {
      stream = s;
      video.srcObject = s;
      return video.play();
    });
  }

  function grab() {
    var width = video.videoWidth || 640;
    var height = video.videoHeight || 480;
    var canvas = document.createElement("canvas");
    canvas.width = width;
    canvas.height = height;
    canvas.getContext("2d").drawImage(video, 0, 0, width, height);
    return new Promise(function (resolve, reject) {
      canvas.toBlob(
        function (blob) {
          if (blob) {
            resolve(blob);
          } else {
            reject(new Error("no frame"));
          }
        },
        "image/jpeg",
        0.9
      );
    });
  }

  function send(frames, times) {
    var data = new FormData(form);
    frames.forEach(function (blob, i) {
      data.append("frame", blob, "frame" + (i + 1) + ".jpg");
    });
    data.append("captured_at", JSON.stringify(times));
    say(root.getAttribute("data-msg-sending"));
    return fetch(form.getAttribute("action"), { method: "POST", body: data, credentials: "same-origin" }).then(function (response) {
      return response
        .json()
        .catch(function () {
          return {};
        })
        .then(function (body) {
          say(body.message || root.getAttribute("data-msg-error"));
          root.setAttribute("data-result", response.ok ? "received" : "refused");
          start.hidden = true;
          video.hidden = true;
          next.hidden = false;
        });
    });
  }

  function run() {
    start.disabled = true;
    say(root.getAttribute("data-msg-ready"));
    var frames = [];
    var times = [];
    openCamera()
      .then(function () {
        return sleep(1000);
      })
      .then(function () {
        var chain = Promise.resolve();
        steps.forEach(function (step, i) {
          chain = chain.then(function () {
            steps.forEach(function (other) {
              other.classList.remove("current");
            });
            step.classList.add("current");
            instruction.textContent = step.getAttribute("data-words");
            return sleep(STEP_MS)
              .then(grab)
              .then(function (blob) {
                frames.push(blob);
                times.push(Date.now() / 1000);
                step.classList.remove("current");
                step.classList.add("done");
                root.setAttribute("data-taken", String(i + 1));
              });
          });
        });
        return chain;
      })
      .then(function () {
        stopCamera();
        instruction.textContent = "";
        return send(frames, times);
      })
      .catch(function (error) {
        stopCamera();
        if (frames.length === 0 && error && error.name !== "TypeError") {
          say(root.getAttribute("data-msg-no-camera"));
          root.setAttribute("data-result", "no-camera");
          document.getElementById("no-camera").classList.add("highlight");
        } else {
          say(root.getAttribute("data-msg-error"));
          root.setAttribute("data-result", "error");
        }
        next.hidden = false;
      });
  }

  start.addEventListener("click", run);
})();
