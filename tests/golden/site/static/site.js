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
    return Array.prototype.slice.call(doc.querySelectorAll(".item:not([hidden])"));
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

  var body = doc.body;

  /* --- 自选 (/watch/): codes and keywords kept in this browser only (localStorage); the
     page's rows and the live stream are filtered by them, with notifications if asked --- */
  var WATCH_KEY = "finews.watch";
  var NOTIFY_KEY = "finews.watch.notify";
  var watchList = doc.querySelector("[data-watch-list]");
  var watchTerms = [];

  function stored(key) {
    try { return window.localStorage.getItem(key); } catch (error) { return null; }
  }

  function store(key, value) {
    try { window.localStorage.setItem(key, value); } catch (error) { /* private mode: this visit only */ }
  }

  function loadTerms() {
    var terms;
    try { terms = JSON.parse(stored(WATCH_KEY) || "[]"); } catch (error) { terms = []; }
    if (!Array.isArray(terms)) return [];
    return terms.filter(function (term) { return typeof term === "string" && term.trim(); }).slice(0, 50);
  }

  /* a term that is a security code in any common notation (600519, sh600519, 600519.SH,
     hk00700, 00700.HK): its digits, matched against tagged codes and codes named */
  function codeOf(term) {
    var found = /^(?:(?:sh|sz|bj|hk)\s*)?([0-9]{5,6})(?:\.(?:sh|ss|sz|bj|hk))?$/i.exec(term.trim());
    return found ? found[1] : null;
  }

  /* the first term an item matches (its text, tagged codes, named codes), or null */
  function watchMatch(text, stocks, mentions) {
    var lower = (text || "").toLowerCase();
    for (var t = 0; t < watchTerms.length; t += 1) {
      var term = watchTerms[t];
      var code = codeOf(term);
      if (code) {
        if (mentions.indexOf(code) >= 0) return term;
        for (var k = 0; k < stocks.length; k += 1) {
          if (stocks[k].slice(-code.length) === code && /^[a-z]*$/i.test(stocks[k].slice(0, -code.length))) return term;
        }
      } else if (lower.indexOf(term.toLowerCase()) >= 0) {
        return term;
      } else {
        for (var u = 0; u < stocks.length; u += 1) {
          if (stocks[u].toLowerCase() === term.toLowerCase()) return term;
        }
      }
    }
    return null;
  }

  function words(value) {
    return (value || "").split(" ").filter(Boolean);
  }

  function rowMatch(row) {
    return watchMatch(row.getAttribute("data-watch-text"), words(row.getAttribute("data-stocks")),
      words(row.getAttribute("data-mentions")));
  }

  var watchCount = doc.querySelector("[data-watch-count]");

  function filterRows() {
    if (!watchList) return;
    var all = watchList.querySelectorAll(".item");
    var shown = 0;
    for (var r = 0; r < all.length; r += 1) {
      var match = rowMatch(all[r]);
      all[r].hidden = !match;
      if (match) shown += 1;
    }
    if (!watchCount) return;
    if (!watchTerms.length) {
      watchCount.textContent = "还没有自选：添加代码或关键词后，这里只显示匹配的消息。";
    } else if (!shown) {
      watchCount.textContent = "最新 " + all.length + " 条消息中没有匹配的" + (body.getAttribute("data-events") ? "；新消息匹配时会出现在这里。" : "。");
    } else {
      watchCount.textContent = "最新 " + all.length + " 条消息中有 " + shown + " 条匹配。";
    }
  }

  function showTerms() {
    var list = doc.querySelector("[data-watch-terms]");
    if (!list) return;
    list.textContent = "";
    watchTerms.forEach(function (term, index) {
      var item = doc.createElement("li");
      var name = doc.createElement("span");
      name.textContent = term;
      var remove = doc.createElement("button");
      remove.type = "button";
      remove.textContent = "×";
      remove.setAttribute("aria-label", "删除自选：" + term);
      remove.addEventListener("click", function () {
        watchTerms.splice(index, 1);
        store(WATCH_KEY, JSON.stringify(watchTerms));
        showTerms();
        filterRows();
      });
      item.appendChild(name);
      item.appendChild(remove);
      list.appendChild(item);
    });
  }

  var notifyButton = doc.querySelector("[data-watch-notify]");
  var notifyState = doc.querySelector("[data-watch-notify-state]");

  function notifying() {
    return "Notification" in window && Notification.permission === "granted" && stored(NOTIFY_KEY) === "1";
  }

  function showNotify() {
    if (!notifyButton) return;
    if (!("Notification" in window)) {
      notifyButton.hidden = true;
      notifyState.textContent = "这个浏览器不支持通知。";
      return;
    }
    if (Notification.permission === "denied") {
      notifyButton.hidden = true;
      notifyState.textContent = "通知已被浏览器阻止；可在浏览器的网站设置里允许。";
      return;
    }
    notifyButton.textContent = notifying() ? "关闭通知" : "新消息时通知我";
    notifyState.textContent = notifying() ? "已开启：匹配的新消息会弹出通知（页面开着时）。" : "";
  }

  if (watchList) {
    var box = doc.querySelector("[data-watch]");
    var form = doc.querySelector("[data-watch-form]");
    watchTerms = loadTerms();
    if (box) box.hidden = false;
    if (form) {
      /* no <form>: nothing is ever sent anywhere; Enter in the field adds as the button does */
      var input = form.querySelector("input");
      var add = function () {
        var term = input.value.trim().slice(0, 40);
        var known = watchTerms.some(function (old) { return old.toLowerCase() === term.toLowerCase(); });
        if (term && !known && watchTerms.length < 50) {
          watchTerms.push(term);
          store(WATCH_KEY, JSON.stringify(watchTerms));
        }
        input.value = "";
        showTerms();
        filterRows();
      };
      form.querySelector("[data-watch-add]").addEventListener("click", add);
      input.addEventListener("keydown", function (event) {
        if (event.key === "Enter" && !event.isComposing) {
          event.preventDefault();
          add();
        }
      });
    }
    if (notifyButton) {
      notifyButton.addEventListener("click", function () {
        if (notifying()) {
          store(NOTIFY_KEY, "0");
          showNotify();
          return;
        }
        /* asked only here, on the reader's click */
        Notification.requestPermission().then(function (answer) {
          store(NOTIFY_KEY, answer === "granted" ? "1" : "0");
          showNotify();
        });
      });
    }
    showTerms();
    showNotify();
    filterRows();
  }

  /* what the 自选 filter reads, on a row pushed live (should the reader change the terms) */
  function watchData(row, data) {
    row.setAttribute("data-watch-text", data.text || data.title || "");
    row.setAttribute("data-stocks", (data.stocks || []).join(" "));
    row.setAttribute("data-mentions", (data.mentions || []).join(" "));
  }

  function notify(term, data) {
    if (!notifying()) return;
    try {
      var note = new Notification("自选「" + term + "」：" + (data.title || "新消息"), {
        tag: "finews-" + String(Number(data.id)),
        lang: doc.documentElement.lang || "zh-CN"
      });
      note.onclick = function () { window.focus(); window.location.href = data.url; };
    } catch (error) { /* some phones allow notifications from a service worker only */ }
  }

  /* --- live updates: follow the server's change stream, insert new rows at the top --- */
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
    if (list.hasAttribute("data-watch-list") && watchMatch(data.text || data.title, data.stocks || [], data.mentions || []) === null) return false;
    return true;
  }

  /* how an item is about a security page's security: tagged by its upstream (标注), its
     code named in the title or digest (提及), or its known name (提及（名称）); null when it
     is not about it */
  function stockMark(list, data) {
    var stock = list.getAttribute("data-filter-stock");
    if ((data.stocks || []).indexOf(stock) >= 0) return ["tagged", "标注"];
    var digits = list.getAttribute("data-filter-digits");
    if (digits && (data.mentions || []).indexOf(digits) >= 0) return ["mentioned", "提及"];
    if ((data.named || []).indexOf(stock) >= 0) return ["named", "提及（名称）"];
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
      if (data.kind === "update") {
        var updated = toRow(data.html);
        if (list.hasAttribute("data-watch-list")) watchData(updated, data);
        old.replaceWith(updated);
      }
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
    if (list.hasAttribute("data-watch-list")) {
      watchData(row, data);
      notify(watchMatch(data.text || data.title, data.stocks || [], data.mentions || []), data);
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
    if (added && watchList) filterRows();
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
