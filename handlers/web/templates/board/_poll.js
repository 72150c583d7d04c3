{#- Fetch the live fragment every poll_seconds (ETag: a 304 means unchanged), backing off while offline. -#}
  var live = document.getElementById("live"), footer = document.getElementById("footer"),
      checked = document.getElementById("checked"), url = {{ live_url | tojson }}, etag = null, failures = 0;
  function stamp(text) { checked.textContent = text; }
  function poll() {
    var headers = etag ? {"If-None-Match": etag} : {};
    fetch(url, {cache: "no-store", headers: headers, credentials: "same-origin"}).then(function (r) {
      if (r.status === 404) { footer.classList.add("stale"); stamp("链接已失效，不再更新"); return; }
      if (r.status === 304) { failures = 0; footer.classList.remove("stale"); stamp("更新于 " + new Date().toLocaleTimeString()); return schedule(); }
      if (!r.ok) { throw new Error(r.status); }
      etag = r.headers.get("ETag");
      return r.text().then(function (html) {
        live.innerHTML = html; failures = 0; footer.classList.remove("stale");
        stamp("更新于 " + new Date().toLocaleTimeString()); schedule();
      });
    }).catch(function () {
      failures += 1; footer.classList.add("stale"); stamp("连接中断，正在重试"); schedule();
    });
  }
  function schedule() { setTimeout(poll, Math.min(60, {{ poll_seconds }} * Math.pow(2, failures)) * 1000); }
  schedule();
