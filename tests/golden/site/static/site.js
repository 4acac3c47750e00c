/* finews: keyboard navigation and live updates. The site reads fine without this file. */
(function () {
  "use strict";

  var doc = document;
  var script = doc.currentScript;

  /* --- offline: a service worker keeps the pages a reader opened (sw.js) --- */
  if ("serviceWorker" in navigator && window.isSecureContext && script) {
    var worker = script.getAttribute("data-sw");
    if (worker) navigator.serviceWorker.register(worker).catch(function () {});
  }

  /* --- keyboard: j / k move between items, / focuses the search box if there is one --- */
  var current = -1;

  function rows() {
    return Array.prototype.slice.call(doc.querySelectorAll(".item"));
  }

  function move(step) {
    var all = rows();
    if (!all.length) return;
    var active = doc.activeElement && doc.activeElement.closest ? doc.activeElement.closest(".item") : null;
    var at = active ? all.indexOf(active) : current;
    var next = at < 0 ? (step > 0 ? 0 : all.length - 1) : Math.min(all.length - 1, Math.max(0, at + step));
    if (all[current]) all[current].classList.remove("current");
    current = next;
    var row = all[next];
    row.classList.add("current");
    var link = row.querySelector("a.title");
    if (link) link.focus({ preventScroll: true });
    row.scrollIntoView({ block: "nearest" });
  }

  doc.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.altKey || event.ctrlKey || event.metaKey) return;
    var target = event.target;
    if (target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName))) return;
    if (event.key === "j") {
      move(1);
    } else if (event.key === "k") {
      move(-1);
    } else if (event.key === "/") {
      var search = doc.querySelector("input[type=search]");
      if (search) {
        event.preventDefault();
        search.focus();
      }
    }
  });

  /* --- feed addresses: shown in full, copied with one click --- */
  var shown = doc.querySelectorAll("[data-absolute]");
  for (var s = 0; s < shown.length; s += 1) {
    shown[s].textContent = new URL(shown[s].textContent, doc.baseURI).href;
  }

  function copy(button) {
    var address = new URL(button.getAttribute("data-copy"), doc.baseURI).href;
    navigator.clipboard.writeText(address).then(function () {
      button.textContent = "已复制";
      window.setTimeout(function () { button.textContent = "复制"; }, 2000);
    }, function () {
      button.textContent = "请手动复制";
    });
  }

  if (navigator.clipboard && window.isSecureContext) {
    var buttons = doc.querySelectorAll("[data-copy]");
    for (var b = 0; b < buttons.length; b += 1) {
      buttons[b].hidden = false;
      buttons[b].addEventListener("click", function (event) { copy(event.currentTarget); });
    }
  }

  /* --- live updates: follow the server's change stream, insert new rows at the top --- */
  var body = doc.body;
  var source = body.getAttribute("data-events");
  if (!source || !window.EventSource) return;

  var status = doc.querySelector("[data-live-status]");
  var lastId = body.getAttribute("data-seq") || "";
  var stream = null;

  function showStatus(on) {
    if (!status) return;
    status.hidden = false;
    status.textContent = on ? "实时更新中" : "正在重新连接…";
    status.title = status.textContent;
    status.classList.toggle("off", !on);
  }

  function wanted(list, data) {
    var category = list.getAttribute("data-filter-category");
    if (category !== null && category !== data.category) return false;
    var day = list.getAttribute("data-filter-day");
    if (day !== null && day !== data.day) return false;
    if (list.hasAttribute("data-filter-important") && !(data.importance > 0)) return false;
    var stock = list.getAttribute("data-filter-stock");
    if (stock !== null && stockMark(list, data) === null) return false;
    return true;
  }

  /* how an item is about a security page's security: tagged by its upstream (标注), or
     its code named in the title or digest (提及); null when it is not about it */
  function stockMark(list, data) {
    var stock = list.getAttribute("data-filter-stock");
    if ((data.stocks || []).indexOf(stock) >= 0) return ["tagged", "标注"];
    var digits = list.getAttribute("data-filter-digits");
    if (digits && (data.mentions || []).indexOf(digits) >= 0) return ["mentioned", "提及"];
    return null;
  }

  function toRow(html) {
    var template = doc.createElement("template");
    template.innerHTML = html.trim();
    return template.content.firstElementChild;
  }

  /* screen readers hear each new item once (the lists themselves are not live regions:
     a row joining two lists, or a list of fifty, would be read out in full) */
  var announcer = doc.querySelector("[data-live-announce]");

  function announce(row) {
    if (!announcer || !row) return;
    var title = row.querySelector(".title");
    announcer.textContent = "新消息：" + (title ? title.textContent : row.textContent).trim();
  }

  function place(list, data) {
    var old = list.querySelector('[data-item-id="' + String(Number(data.id)) + '"]');
    if (old) {
      if (data.kind === "update") old.replaceWith(toRow(data.html));
      return null;
    }
    if (data.kind !== "new") return null;
    var row = toRow(data.html);
    row.classList.add("fresh");
    var mark = list.hasAttribute("data-filter-stock") ? stockMark(list, data) : null;
    if (mark) {
      var how = doc.createElement("span");
      how.className = "how how-" + mark[0];
      how.textContent = mark[1];
      row.appendChild(how);
    }
    var empty = list.querySelector(".empty");
    if (empty) empty.remove();
    list.insertBefore(row, list.firstChild);
    var max = parseInt(list.getAttribute("data-max") || "0", 10);
    while (max > 0 && list.children.length > max) list.removeChild(list.lastElementChild);
    if (current >= 0) current += 1; /* keep the keyboard cursor on the same row */
    return row;
  }

  function onItem(event) {
    lastId = event.lastEventId || lastId;
    var data;
    try {
      data = JSON.parse(event.data);
    } catch (error) {
      return;
    }
    var lists = doc.querySelectorAll("[data-live-list]");
    var added = null;
    for (var i = 0; i < lists.length; i += 1) {
      if (wanted(lists[i], data)) added = place(lists[i], data) || added;
    }
    announce(added);
  }

  function connect() {
    /* the page says which change it shows; the browser sends Last-Event-ID on reconnects */
    stream = new EventSource(source + (lastId ? "?since=" + encodeURIComponent(lastId) : ""));
    stream.addEventListener("item", onItem);
    stream.addEventListener("reload", function () { window.location.reload(); });
    stream.addEventListener("open", function () { showStatus(true); });
    stream.addEventListener("error", function () {
      showStatus(false);
      if (stream.readyState === EventSource.CLOSED) {
        /* the server refused (restarting?): try again from the last change seen */
        window.setTimeout(connect, 3000);
      }
    });
  }

  connect();
})();
