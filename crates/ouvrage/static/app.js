// Progressive enhancement only: every page works without this file.
(function () {
  "use strict";
  var toggle = document.querySelector(".menu-toggle");
  var nav = document.getElementById("nav");
  if (toggle && nav) {
    toggle.addEventListener("click", function () {
      var open = nav.classList.toggle("open");
      toggle.setAttribute("aria-expanded", open ? "true" : "false");
    });
  }
  // Forms that ask for confirmation before a destructive action: data-confirm="message".
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (e) {
      if (!window.confirm(form.getAttribute("data-confirm"))) { e.preventDefault(); }
    });
  });
})();

// Site lists, Excel export: « tout cocher » ticks every row of the page (without this script,
// rows are ticked one by one), and exporting the selection with nothing ticked says so on the
// page instead of loading the server's error page.
(function () {
  "use strict";
  var form = document.getElementById("export-form");
  if (!form) { return; }
  var all = document.getElementById("tout-cocher");
  var empty = document.getElementById("export-empty");
  function boxes() {
    return Array.prototype.slice.call(document.querySelectorAll("input[type=checkbox][name=ids][form=export-form]"));
  }
  function sync() {
    var list = boxes();
    var ticked = list.filter(function (b) { return b.checked; }).length;
    if (all) {
      all.checked = list.length > 0 && ticked === list.length;
      all.indeterminate = ticked > 0 && ticked < list.length;
    }
    if (empty && ticked > 0) { empty.hidden = true; }
  }
  if (all) {
    all.hidden = false;
    all.addEventListener("change", function () {
      boxes().forEach(function (b) { b.checked = all.checked; });
      sync();
    });
  }
  boxes().forEach(function (b) { b.addEventListener("change", sync); });
  sync(); // ticks restored by the browser on going back
  form.addEventListener("submit", function (e) {
    var selection = e.submitter && e.submitter.id === "export-selection";
    if (selection && !boxes().some(function (b) { return b.checked; })) {
      e.preventDefault();
      if (empty) { empty.hidden = false; }
    }
  });
})();

// Sites: thermal-study drop zones (new chantier, new version of a site's study). A file dropped
// on the zone goes into the form's file input and the form is sent; without this script the
// input and its button do the same.
(function () {
  "use strict";
  document.querySelectorAll("[data-dropzone]").forEach(function (zone) {
    var form = zone.closest("form");
    var input = form && form.querySelector("input[type=file]");
    if (!input) { return; }
    var depth = 0;
    zone.addEventListener("dragenter", function (e) {
      e.preventDefault();
      depth += 1;
      zone.classList.add("dragover");
    });
    zone.addEventListener("dragover", function (e) {
      e.preventDefault();
      if (e.dataTransfer) { e.dataTransfer.dropEffect = "copy"; }
      zone.classList.add("dragover");
    });
    zone.addEventListener("dragleave", function () {
      depth = Math.max(0, depth - 1);
      if (depth === 0) { zone.classList.remove("dragover"); }
    });
    zone.addEventListener("drop", function (e) {
      e.preventDefault();
      depth = 0;
      zone.classList.remove("dragover");
      if (!e.dataTransfer || !e.dataTransfer.files || e.dataTransfer.files.length === 0) { return; }
      input.files = e.dataTransfer.files;
      // data-dropzone="keep": the files wait in the form (a type must still be chosen).
      if (zone.getAttribute("data-dropzone") === "keep") {
        showChosen();
        return;
      }
      zone.classList.add("sending");
      form.submit();
    });
    // The names of the files waiting in a "keep" zone, so the user sees what will be sent.
    function showChosen() {
      var list = zone.querySelector(".dropzone-list");
      if (!list) { return; }
      while (list.firstChild) { list.removeChild(list.firstChild); }
      Array.prototype.forEach.call(input.files, function (f) {
        var li = document.createElement("li");
        li.textContent = f.name;
        list.appendChild(li);
      });
      list.hidden = input.files.length === 0;
    }
    input.addEventListener("change", showChosen);
  });
})();
