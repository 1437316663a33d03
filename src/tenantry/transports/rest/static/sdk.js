/* Tenantry collection SDK (SPEC §10), loaded by an environment's snippet:
 *   <script src="https://tenantry.example/sdk.js" data-client-key="ck_..." async></script>
 * Exposes window.tenantry.track(type, data, {experimentId}) and sends one `page_view` on load.
 * Events go to <origin of this script>/v1/collect with the X-Client-Key header. No dependencies. */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script) {
    return;
  }
  var clientKey = script.getAttribute("data-client-key");
  var endpoint = new URL("/v1/collect", script.src).href;

  function track(type, data, options) {
    var body = { type: String(type), data: data || {} };
    if (options && options.experimentId) {
      body.experiment_id = options.experimentId;
    }
    return fetch(endpoint, {
      method: "POST",
      mode: "cors",
      credentials: "omit",
      keepalive: true,
      headers: { "Content-Type": "application/json", "X-Client-Key": clientKey },
      body: JSON.stringify(body),
    }).then(
      function (response) {
        return response.ok ? response.json() : null;
      },
      function () {
        return null;
      }
    );
  }

  window.tenantry = { track: track, clientKey: clientKey };
  track("page_view", {
    url: location.href,
    path: location.pathname,
    referrer: document.referrer || null,
    title: document.title,
  });
})();
