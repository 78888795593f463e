// Justificatifs à signer, « Signature électronique »: the signature pad. The signer draws with a
// mouse, a finger or a pen (pointer events); « Effacer » starts over; « Signer » puts the drawing
// in the form as a PNG data URL. Without a drawing the form is not sent.
(function () {
  "use strict";
  var canvas = document.getElementById("signature-pad");
  var form = document.getElementById("sign-form");
  var field = document.getElementById("signature-data");
  if (!canvas || !form || !field || !canvas.getContext) { return; }
  var clear = document.getElementById("signature-clear");
  var missing = document.getElementById("signature-missing");
  var submit = document.getElementById("signature-submit");
  var ctx = canvas.getContext("2d");
  var ratio = Math.min(window.devicePixelRatio || 1, 2);
  var drawing = false;
  var inked = false;
  var last = null;

  // The backing store follows the displayed size, so strokes stay sharp and under the pointer.
  function resize() {
    var rect = canvas.getBoundingClientRect();
    if (rect.width < 1 || rect.height < 1) { return; }
    canvas.width = Math.round(rect.width * ratio);
    canvas.height = Math.round(rect.height * ratio);
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    ctx.strokeStyle = "#14254a";
    ctx.fillStyle = "#14254a";
    ctx.lineWidth = 2.5;
  }

  function point(e) {
    var rect = canvas.getBoundingClientRect();
    return { x: e.clientX - rect.left, y: e.clientY - rect.top };
  }

  function dot(p) {
    ctx.beginPath();
    ctx.arc(p.x, p.y, ctx.lineWidth / 2, 0, Math.PI * 2);
    ctx.fill();
  }

  function segment(p) {
    ctx.beginPath();
    ctx.moveTo(last.x, last.y);
    ctx.lineTo(p.x, p.y);
    ctx.stroke();
    if (Math.abs(p.x - last.x) + Math.abs(p.y - last.y) > 0) { inked = true; }
    last = p;
  }

  function keep() {
    field.value = inked ? canvas.toDataURL("image/png") : "";
    if (inked && missing) { missing.hidden = true; }
  }

  canvas.addEventListener("pointerdown", function (e) {
    if (e.button !== undefined && e.button > 0) { return; }
    e.preventDefault();
    drawing = true;
    if (canvas.setPointerCapture) { canvas.setPointerCapture(e.pointerId); }
    last = point(e);
    dot(last);
  });
  canvas.addEventListener("pointermove", function (e) {
    if (!drawing) { return; }
    e.preventDefault();
    var events = e.getCoalescedEvents ? e.getCoalescedEvents() : [];
    if (!events.length) { events = [e]; }
    events.forEach(function (ev) { segment(point(ev)); });
  });
  function end(e) {
    if (!drawing) { return; }
    drawing = false;
    if (canvas.releasePointerCapture && e.pointerId !== undefined) {
      try { canvas.releasePointerCapture(e.pointerId); } catch (err) { /* already released */ }
    }
    keep();
  }
  canvas.addEventListener("pointerup", end);
  canvas.addEventListener("pointercancel", end);

  if (clear) {
    clear.addEventListener("click", function () {
      ctx.save();
      ctx.setTransform(1, 0, 0, 1, 0, 0);
      ctx.clearRect(0, 0, canvas.width, canvas.height);
      ctx.restore();
      inked = false;
      keep();
    });
  }

  form.addEventListener("submit", function (e) {
    keep();
    if (!inked) {
      e.preventDefault();
      if (missing) { missing.hidden = false; }
      canvas.focus();
      return;
    }
    // One signature per click: a second click while the first is sent does nothing.
    if (form.getAttribute("data-sending") === "1") { e.preventDefault(); return; }
    form.setAttribute("data-sending", "1");
    if (submit) { submit.disabled = true; }
  });

  resize();
})();
