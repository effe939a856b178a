#!/bin/sh
# Makes sure .dev.vars holds every secret local development needs: a dev
# gateway key, an admin token and the token-signing master secret. Missing
# ones are generated and appended; existing ones are kept.
set -eu
file=.dev.vars
touch "$file"
add() {
  if ! grep -q "^$1=" "$file"; then
    value="$2$(node -e "process.stdout.write(require('crypto').randomBytes(24).toString('hex'))")"
    printf '%s=%s\n' "$1" "$value" >> "$file"
    echo "added $1 to $file"
  fi
}
add EDGEWAY_DEV_KEY ew-dev-
add EDGEWAY_ADMIN_TOKEN ew-admin-
add EDGEWAY_SIGNING_SECRET ""
