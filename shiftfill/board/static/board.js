// The board's script: keeps the live part of the page current, and runs its actions in place.
//
// Once a second it asks the server for the live part rendered again, sending the digest
// of the one it shows (If-None-Match): the server answers 304 while nothing changed. The
// page works without this script; it only spares the reloads and the confirmation page.
(function () {
  "use strict";

  var live = document.getElementById("live");
  if (!live) {
    return;
  }
  var notice = document.getElementById("notice");
  var connection = document.getElementById("connection");
  var updated = document.getElementById("updated");
  var dialog = document.getElementById("cancel-dialog");
  var pollMs = Number(live.dataset.pollMs) || 1000;
  // The server's clock minus this browser's: relative times follow the server.
  var skew = Date.parse(live.dataset.now) - Date.now() || 0;
  var timer = null;
  var inFlight = false;
  var opener = null;

  function plural(n, word) {
    return n + " " + word;
  }

  function spell(seconds) {
    seconds = Math.max(0, Math.floor(seconds));
    if (seconds < 60) {
      return plural(seconds, "s");
    }
    var minutes = Math.floor(seconds / 60);
    if (minutes < 10) {
      return minutes + " min " + (seconds % 60) + " s";
    }
    if (minutes < 60) {
      return plural(minutes, "min");
    }
    var hours = Math.floor(minutes / 60);
    if (hours < 48) {
      return hours + " h " + String(minutes % 60).padStart(2, "0") + " min";
    }
    return Math.floor(hours / 24) + " d " + (hours % 24) + " h";
  }

  function tick() {
    var now = Date.now() + skew;
    var times = live.querySelectorAll("time[data-relative]");
    for (var i = 0; i < times.length; i++) {
      var at = Date.parse(times[i].getAttribute("datetime"));
      var seconds = (at - now) / 1000;
      times[i].textContent = seconds >= 0 ? "in " + spell(seconds) : spell(-seconds) + " ago";
    }
  }

  function show(state) {
    if (state.version === live.dataset.version) {
      return;
    }
    // Keep the keyboard where it was: buttons keep their ids across renders.
    var focused = document.activeElement && live.contains(document.activeElement)
      ? document.activeElement.id : "";
    live.innerHTML = state.html;
    live.dataset.version = state.version;
    if (updated) {
      updated.textContent = new Date().toLocaleTimeString();
    }
    if (focused && document.getElementById(focused)) {
      document.getElementById(focused).focus();
    }
    tick();
  }

  function schedule(ms) {
    clearTimeout(timer);
    timer = setTimeout(poll, ms);
  }

  function poll() {
    if (inFlight) {
      return;
    }
    if (document.hidden) {
      schedule(pollMs);
      return;
    }
    inFlight = true;
    fetch(live.dataset.stateUrl, {
      headers: { Accept: "application/json", "If-None-Match": '"' + live.dataset.version + '"' },
      cache: "no-store",
      credentials: "same-origin",
    })
      .then(function (response) {
        if (response.status === 401) {
          window.location.assign(live.dataset.loginUrl);
          return null;
        }
        if (response.status === 304) {
          return null;
        }
        if (!response.ok) {
          throw new Error("status " + response.status);
        }
        return response.json();
      })
      .then(function (state) {
        connection.hidden = true;
        if (state) {
          skew = Date.parse(state.now) - Date.now() || skew;
          show(state);
        }
      })
      .catch(function () {
        connection.hidden = false;
      })
      .finally(function () {
        inFlight = false;
        schedule(pollMs);
      });
  }

  function say(text) {
    notice.textContent = text;
  }

  // Post a form's fields (its CSRF token among them) and say what came of it.
  function act(form, action) {
    var buttons = form.querySelectorAll("button");
    buttons.forEach(function (b) { b.disabled = true; });
    return fetch(action || form.action, {
      method: "POST",
      body: new URLSearchParams(new FormData(form)),
      headers: { Accept: "application/json" },
      credentials: "same-origin",
    })
      .then(function (response) {
        if (response.status === 401) {
          window.location.assign(live.dataset.loginUrl);
          return null;
        }
        return response.json().then(function (body) {
          say(response.ok ? body.message : "Not done: " + body.error.message);
        });
      })
      .catch(function () {
        say("Not done: shiftfill could not be reached. Try again.");
      })
      .finally(function () {
        buttons.forEach(function (b) { b.disabled = false; });
        schedule(0);
      });
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.dataset.action === "fanout") {
      event.preventDefault();
      act(form);
    } else if (form.dataset.action === "cancel" && dialog && dialog.showModal) {
      event.preventDefault();
      opener = form.querySelector("button");
      var confirm = document.getElementById("cancel-form");
      confirm.action = form.dataset.post;
      document.getElementById("cancel-what").textContent = form.dataset.what;
      dialog.showModal();
    } else if (form.id === "cancel-form") {
      event.preventDefault();
      var target = form.action;
      dialog.close();
      act(form, target);
    }
  });

  if (dialog) {
    document.getElementById("cancel-keep").addEventListener("click", function () {
      dialog.close();
    });
    dialog.addEventListener("close", function () {
      // Back to the button that opened the dialog, or to the message if it is gone.
      if (opener && document.getElementById(opener.id)) {
        document.getElementById(opener.id).focus();
      }
      opener = null;
    });
  }

  document.addEventListener("visibilitychange", function () {
    if (!document.hidden) {
      schedule(0);
    }
  });

  setInterval(tick, 1000);
  tick();
  schedule(pollMs);
})();
