#!/bin/sh
# Prints how to call the local gateway, with the dev key from .dev.vars.
port=${1:-8787}
key=$(sed -n 's/^EDGEWAY_DEV_KEY=//p' .dev.vars)
admin=$(sed -n 's/^EDGEWAY_ADMIN_TOKEN=//p' .dev.vars)
cat <<TXT

  Edgeway is starting on http://127.0.0.1:$port
  Dashboard:       http://127.0.0.1:$port/   (sign in with the admin token)
  Dev gateway key: $key
  Admin token:     $admin   (for the dashboard and /admin/api/*)

  Try it (the built-in demo model, no provider key needed):

    curl http://127.0.0.1:$port/v1/chat/completions \\
      -H "Authorization: Bearer $key" -H "Content-Type: application/json" \\
      -d '{"model":"demo","messages":[{"role":"user","content":"Hello, edge!"}]}'

  Streaming: add "stream":true and curl -N. Routes: GET /v1/models.

  Make a rate-limited key (shown once) with the admin API:

    curl http://127.0.0.1:$port/admin/api/keys -H "x-edgeway-admin-token: $admin" \\
      -d '{"name":"my app","limits":{"requests":{"limit":10,"window_ms":60000,"burst":10}}}'

TXT
