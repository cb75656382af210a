// Passkeys (WebAuthn) for Gatehouse's pages. First-party, no dependencies,
// loaded with the page's CSP nonce; it only runs where the browser has
// PublicKeyCredential, and every page works without it.
//
// Markup it reads:
//   <form data-passkey="login|2fa|stepup|register" data-options="/url"
//         method="post" action="/url" hidden>   (shown when supported)
//     <input type="hidden" name="csrf_token"> <input type="hidden" name="credential">
//     <button type="submit">...</button>
//   </form>
//   [data-passkey-error] inside the form shows errors.
//   [data-passkey-unsupported] elements are hidden when supported.
//   A login form with data-passkey-conditional gets the browser's autofill.
(function () {
  "use strict";
  if (!window.PublicKeyCredential || !navigator.credentials) {
    return;
  }

  function fromB64(s) {
    s = s.replace(/-/g, "+").replace(/_/g, "/");
    while (s.length % 4) {
      s += "=";
    }
    var bin = atob(s);
    var out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) {
      out[i] = bin.charCodeAt(i);
    }
    return out.buffer;
  }

  function toB64(buf) {
    var bytes = new Uint8Array(buf);
    var bin = "";
    for (var i = 0; i < bytes.length; i++) {
      bin += String.fromCharCode(bytes[i]);
    }
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function decodeList(list) {
    return (list || []).map(function (c) {
      return Object.assign({}, c, { id: fromB64(c.id) });
    });
  }

  // The server's options (JSON, base64url) as the browser wants them.
  function creationOptions(o) {
    var pk = Object.assign({}, o.publicKey);
    pk.challenge = fromB64(pk.challenge);
    pk.user = Object.assign({}, pk.user, { id: fromB64(pk.user.id) });
    pk.excludeCredentials = decodeList(pk.excludeCredentials);
    return { publicKey: pk };
  }

  function requestOptions(o) {
    var pk = Object.assign({}, o.publicKey);
    pk.challenge = fromB64(pk.challenge);
    pk.allowCredentials = decodeList(pk.allowCredentials);
    return { publicKey: pk };
  }

  // The browser's answer as JSON for the server.
  function credentialJSON(c) {
    var r = c.response;
    var resp = { clientDataJSON: toB64(r.clientDataJSON) };
    if (r.attestationObject) {
      resp.attestationObject = toB64(r.attestationObject);
      resp.transports = r.getTransports ? r.getTransports() : [];
    } else {
      resp.authenticatorData = toB64(r.authenticatorData);
      resp.signature = toB64(r.signature);
      if (r.userHandle) {
        resp.userHandle = toB64(r.userHandle);
      }
    }
    return JSON.stringify({
      id: c.id,
      rawId: toB64(c.rawId),
      type: c.type,
      authenticatorAttachment: c.authenticatorAttachment || undefined,
      clientExtensionResults: c.getClientExtensionResults ? c.getClientExtensionResults() : {},
      response: resp
    });
  }

  function showError(form, text) {
    var el = form.querySelector("[data-passkey-error]");
    if (el) {
      el.textContent = text;
      el.hidden = false;
    }
  }

  // options asks the server to start a ceremony.
  function options(form) {
    var body = new URLSearchParams();
    body.set("csrf_token", form.elements.csrf_token.value);
    return fetch(form.dataset.options, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: body
    }).then(function (res) {
      if (!res.ok) {
        return res.json().catch(function () {
          return {};
        }).then(function (j) {
          throw new Error(j.error || "The server did not start the passkey request. Reload the page and try again.");
        });
      }
      return res.json();
    });
  }

  var conditional = null; // AbortController of the autofill request

  function submitWith(form, cred) {
    form.elements.credential.value = credentialJSON(cred);
    form.submit();
  }

  function run(form) {
    if (conditional) {
      conditional.abort();
      conditional = null;
    }
    var kind = form.dataset.passkey;
    options(form).then(function (o) {
      if (kind === "register") {
        return navigator.credentials.create(creationOptions(o));
      }
      return navigator.credentials.get(requestOptions(o));
    }).then(function (cred) {
      if (cred) {
        submitWith(form, cred);
      }
    }).catch(function (err) {
      if (err && err.name === "NotAllowedError") {
        showError(form, "The passkey request was cancelled or timed out.");
      } else if (err && err.name === "InvalidStateError") {
        showError(form, "This device already holds a passkey for your account.");
      } else {
        showError(form, (err && err.message) || "The passkey request failed.");
      }
    });
  }

  // startConditional offers passkeys in the email field's autofill.
  function startConditional(form) {
    if (!PublicKeyCredential.isConditionalMediationAvailable) {
      return;
    }
    PublicKeyCredential.isConditionalMediationAvailable().then(function (ok) {
      if (!ok) {
        return null;
      }
      return options(form).then(function (o) {
        conditional = new AbortController();
        var req = requestOptions(o);
        req.mediation = "conditional";
        req.signal = conditional.signal;
        return navigator.credentials.get(req);
      });
    }).then(function (cred) {
      if (cred) {
        submitWith(form, cred);
      }
    }).catch(function () {
      // Aborted for the button, or not offered: nothing to say.
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-passkey-unsupported]").forEach(function (el) {
      el.hidden = true;
    });
    document.querySelectorAll("form[data-passkey]").forEach(function (form) {
      form.hidden = false;
      form.addEventListener("submit", function (ev) {
        ev.preventDefault();
        run(form);
      });
      if (form.hasAttribute("data-passkey-conditional")) {
        startConditional(form);
      }
    });
  });
})();
