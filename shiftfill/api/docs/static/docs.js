/*
 * Shows shiftfill's OpenAPI document with Swagger UI.
 *
 * When the server needs the ops token (it answers the document with 401), asks for
 * it, then sends it with the document's request and with every "Try it out" call.
 * The token stays in this page's memory: a reload asks again.
 */
(function () {
  "use strict";

  var specUrl = document.body.getAttribute("data-spec-url");
  var form = document.getElementById("token-form");
  var input = document.getElementById("token");
  var message = document.getElementById("token-message");
  var token = "";

  function ask(text) {
    message.textContent = text;
    form.hidden = false;
    input.focus();
  }

  function withToken(request) {
    // A token typed into Swagger UI's own Authorize dialog wins.
    if (token && !request.headers.Authorization) {
      request.headers.Authorization = "Bearer " + token;
    }
    return request;
  }

  function show() {
    form.hidden = true;
    window.ui = SwaggerUIBundle({
      url: specUrl,
      dom_id: "#swagger-ui",
      deepLinking: true,
      // No validator badge: it would send the document's address to another site.
      validatorUrl: null,
      requestInterceptor: withToken
    });
  }

  function load() {
    var headers = token ? { Authorization: "Bearer " + token } : {};
    fetch(specUrl, { headers: headers, credentials: "same-origin" })
      .then(function (response) {
        if (response.status === 401) {
          ask(
            token
              ? "That token was refused. Enter an ops token (SHIFTFILL_API_TOKEN)."
              : "This server needs an ops token (SHIFTFILL_API_TOKEN) to show its API."
          );
        } else if (!response.ok) {
          ask("The API document could not be loaded (HTTP " + response.status + ").");
        } else {
          show();
        }
      })
      .catch(function () {
        ask("The server could not be reached.");
      });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    token = input.value.trim();
    load();
  });

  load();
})();
