#!/usr/bin/env bash
# Obtain, install and renew the Let's Encrypt certificate of the nginx in front of mssql-mcp.
#
#   ./setup-letsencrypt.sh                      asks the domain, an email and production or staging
#   ./setup-letsencrypt.sh --domain mcp.example.com --email ops@example.com [--staging] [--yes]
#   ./setup-letsencrypt.sh --renew              renew what is due and reload nginx (the cron entry runs this)
#
# What it does:
#   1. checks the programs it needs and creates certbot/conf (certbot's /etc/letsencrypt) and certbot/www
#      (the http-01 webroot nginx serves on port 80);
#   2. installs a temporary self-signed certificate, so nginx can start before the real one exists;
#   3. starts nginx (or reloads it), then asks certbot for the real certificate through the webroot;
#   4. reloads nginx, which now serves the real certificate;
#   5. installs a cron entry that runs `--renew` every 12 hours; certbot's deploy hook marks a renewal and
#      `--renew` reloads nginx only then.
#   If certbot fails, the certificate that was there before (or the temporary one) is put back and nginx is
#   reloaded with it, so the site keeps serving while you fix the cause.
#
# By default certbot and nginx run as the services of docker-compose.prod.yml. With --local they are the
# programs on this host (a VM without Docker), and the tests drive that mode against pebble.
#
# Options:
#   --domain NAME          the public name (DNS must point here); also DOMAIN in the environment or .env
#   --email ADDRESS        for expiry notices; empty registers without one
#   --staging              Let's Encrypt's staging server (untrusted certificates, generous rate limits)
#   --production           Let's Encrypt's production server (the default)
#   --server URL           any ACME directory (also ACME_SERVER); wins over --staging/--production
#   --yes                  replace an existing certificate without asking
#   --non-interactive      never ask; fail on a missing answer
#   --data-path DIR        where conf/ and www/ live (default: ./certbot beside this script)
#   --local                certbot and nginx on this host instead of Docker Compose
#   --webroot DIR          the webroot as certbot sees it (default: /var/www/certbot, or DIR/www with --local)
#   --nginx-start CMD      how to start nginx (default: compose up -d nginx, or `nginx` with --local)
#   --nginx-reload CMD     how to reload nginx (default: compose exec nginx nginx -s reload, or `nginx -s reload`)
#   --cron-file FILE       where the renewal entry goes (default /etc/cron.d/mssql-mcp-certbot)
#   --no-cron              do not install the renewal entry
#   --renew                renew due certificates and reload nginx if any was renewed
#   --force-renewal        with --renew: renew now, due or not
set -euo pipefail

ROOT="$(cd "$(dirname "$0")" && pwd)"
LE_PRODUCTION="https://acme-v02.api.letsencrypt.org/directory"
LE_STAGING="https://acme-staging-v02.api.letsencrypt.org/directory"

domain="${DOMAIN:-}"
email="${EMAIL:-}"
email_set=0
[ -n "$email" ] && email_set=1
environment=""      # production | staging
server="${ACME_SERVER:-}"
assume_yes=0
interactive=1
[ -t 0 ] || interactive=0
data_path="$ROOT/certbot"
local_mode=0
webroot=""
nginx_start=""
nginx_reload=""
cron_file="${CRON_FILE:-/etc/cron.d/mssql-mcp-certbot}"
install_cron=1
renew=0
force_renewal=0

say() { printf '%s\n' "setup-letsencrypt: $*"; }
die() { printf '%s\n' "setup-letsencrypt: $*" >&2; exit 1; }
need_value() { [ $# -ge 2 ] || die "$1 needs a value"; }

while [ $# -gt 0 ]; do
  case "$1" in
    --domain) need_value "$@"; domain="$2"; shift ;;
    --email) need_value "$@"; email="$2"; email_set=1; shift ;;
    --staging) environment=staging ;;
    --production) environment=production ;;
    --server) need_value "$@"; server="$2"; shift ;;
    --yes|-y) assume_yes=1 ;;
    --non-interactive) interactive=0 ;;
    --data-path) need_value "$@"; data_path="$2"; shift ;;
    --local) local_mode=1 ;;
    --webroot) need_value "$@"; webroot="$2"; shift ;;
    --nginx-start) need_value "$@"; nginx_start="$2"; shift ;;
    --nginx-reload) need_value "$@"; nginx_reload="$2"; shift ;;
    --cron-file) need_value "$@"; cron_file="$2"; shift ;;
    --no-cron) install_cron=0 ;;
    --renew) renew=1 ;;
    --force-renewal) force_renewal=1 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
  shift
done

mkdir -p "$data_path"
data_path="$(cd "$data_path" && pwd)"
conf="$data_path/conf"    # on this host; certbot sees it as $le_dir
www="$data_path/www"

# ---- how certbot and nginx are run -----------------------------------------------------------------
if [ "$local_mode" = 1 ]; then
  le_dir="$conf"
  webroot="${webroot:-$www}"
  nginx_start="${nginx_start:-nginx}"
  nginx_reload="${nginx_reload:-nginx -s reload}"
  certbot_cmd=(certbot --config-dir "$conf" --work-dir "$data_path/work" --logs-dir "$data_path/logs")
else
  le_dir="/etc/letsencrypt"
  webroot="${webroot:-/var/www/certbot}"
  compose="docker compose -f $ROOT/docker-compose.prod.yml"
  nginx_start="${nginx_start:-$compose up -d nginx}"
  nginx_reload="${nginx_reload:-$compose exec -T nginx nginx -s reload}"
  certbot_cmd=(docker compose -f "$ROOT/docker-compose.prod.yml" --profile certbot run --rm certbot)
fi
renewed_flag_host="$conf/.renewed"
renewed_flag_certbot="$le_dir/.renewed"

run_certbot() { "${certbot_cmd[@]}" "$@"; }
reload_nginx() { bash -c "$nginx_reload"; }

check_prerequisites() {
  local missing=()
  command -v openssl >/dev/null || missing+=(openssl)
  if [ "$local_mode" = 1 ]; then
    command -v certbot >/dev/null || missing+=(certbot)
  else
    docker compose version >/dev/null 2>&1 || missing+=("docker (with the compose plugin)")
  fi
  [ "${#missing[@]}" -eq 0 ] || die "missing: ${missing[*]}"
}

# ---- renewal ----------------------------------------------------------------------------------------
if [ "$renew" = 1 ]; then
  check_prerequisites
  rm -f "$renewed_flag_host"
  args=(renew --no-random-sleep-on-renew --non-interactive --deploy-hook "touch $renewed_flag_certbot")
  if [ "$force_renewal" = 1 ]; then args+=(--force-renewal); fi
  if [ -n "$domain" ]; then args+=(--cert-name "$domain"); fi
  run_certbot "${args[@]}"
  if [ -e "$renewed_flag_host" ]; then
    reload_nginx
    rm -f "$renewed_flag_host"
    say "renewed; nginx reloaded"
  else
    say "nothing was due for renewal"
  fi
  exit 0
fi

# ---- the questions ----------------------------------------------------------------------------------
ask() {  # ask VAR "question" [default]
  local answer
  [ "$interactive" = 1 ] || die "no answer for: $2 (pass it as a flag; see --help)"
  read -r -p "$2 " answer
  printf -v "$1" '%s' "${answer:-${3:-}}"
}
if [ -z "$domain" ] && [ -f "$ROOT/.env" ]; then
  domain="$(sed -n 's/^DOMAIN=//p' "$ROOT/.env" | tail -n 1)"
fi
[ -n "$domain" ] || ask domain "Domain name (DNS must point to this machine):"
[ -n "$domain" ] || die "a domain is required"
case "$domain" in *[!A-Za-z0-9.-]*) die "not a domain name: $domain" ;; esac
if [ "$email_set" = 0 ] && [ "$interactive" = 1 ]; then
  ask email "Email for expiry notices (empty: none):"
fi
if [ -z "$environment" ] && [ -z "$server" ]; then
  if [ "$interactive" = 1 ]; then
    choice=""
    ask choice "Production (0) or staging (1)? [0]" 0
    environment=production
    if [ "${choice:-0}" = 1 ]; then environment=staging; fi
  else
    environment=production
  fi
fi
if [ -z "$server" ]; then
  server="$LE_PRODUCTION"
  if [ "$environment" = staging ]; then server="$LE_STAGING"; fi
fi

check_prerequisites
mkdir -p "$conf" "$www"

if [ "$local_mode" = 0 ]; then
  # nginx's template needs DOMAIN; docker-compose.prod.yml reads it from .env.
  if ! grep -q '^DOMAIN=' "$ROOT/.env" 2>/dev/null; then
    printf 'DOMAIN=%s\n' "$domain" >> "$ROOT/.env"
    say "added DOMAIN=$domain to .env"
  fi
  grep -q "^PUBLIC_URL=https://$domain/\{0,1\}$" "$ROOT/.env" || say "note: set PUBLIC_URL=https://$domain in .env"
fi

live="$conf/live/$domain"
if [ -f "$conf/renewal/$domain.conf" ] && [ "$assume_yes" = 0 ]; then
  if [ "$interactive" = 1 ]; then
    replace=""
    ask replace "A certificate for $domain exists. Replace it? (y/N)" n
    case "$replace" in y|Y|yes) ;; *) say "kept the existing certificate"; exit 0 ;; esac
  else
    say "a certificate for $domain exists; kept it (--yes replaces it, --renew renews it)"
    exit 0
  fi
fi

# ---- a temporary certificate, so nginx can start ------------------------------------------------------
backup="$(mktemp -d "$data_path/.backup.XXXXXX")"
if [ -f "$conf/renewal/$domain.conf" ]; then
  say "keeping a copy of the current certificate"
  mkdir -p "$backup/live" "$backup/archive" "$backup/renewal"
  cp -a "$live" "$backup/live/"
  cp -a "$conf/archive/$domain" "$backup/archive/"
  cp -a "$conf/renewal/$domain.conf" "$backup/renewal/"
else
  say "installing a temporary self-signed certificate for $domain"
  rm -rf "$live"
  mkdir -p "$live"
  openssl req -x509 -nodes -newkey rsa:2048 -days 1 -subj "/CN=localhost" \
    -keyout "$live/privkey.pem" -out "$live/fullchain.pem" 2>/dev/null
  cp "$live/fullchain.pem" "$live/chain.pem"
  mkdir -p "$backup/live"
  cp -a "$live" "$backup/live/"
fi

restore() {
  rm -rf "$live" "$conf/archive/$domain" "$conf/renewal/$domain.conf"
  mkdir -p "$conf/live" "$conf/archive" "$conf/renewal"
  cp -a "$backup/live/$domain" "$conf/live/"
  if [ -d "$backup/archive/$domain" ]; then cp -a "$backup/archive/$domain" "$conf/archive/"; fi
  if [ -f "$backup/renewal/$domain.conf" ]; then cp -a "$backup/renewal/$domain.conf" "$conf/renewal/"; fi
  reload_nginx || say "warning: nginx did not reload; check it"
}

say "starting nginx"
reload_nginx >/dev/null 2>&1 || bash -c "$nginx_start"

# certbot refuses a name whose live/ folder it did not make ("live directory exists"): clear the way.
rm -rf "$live" "$conf/archive/$domain" "$conf/renewal/$domain.conf"

say "requesting a certificate for $domain from $server"
args=(certonly --webroot -w "$webroot" -d "$domain" --cert-name "$domain" --server "$server"
      --agree-tos --no-eff-email --non-interactive --keep-until-expiring)
if [ -n "$email" ]; then args+=(--email "$email"); else args+=(--register-unsafely-without-email); fi
if ! run_certbot "${args[@]}"; then
  say "certbot failed: putting the previous certificate back"
  restore
  rm -rf "$backup"
  die "no new certificate; nginx still serves the previous one. Fix the cause above and run this again."
fi
rm -rf "$backup"
reload_nginx
say "nginx reloaded with the certificate for $domain"

# ---- renewal every 12 hours ---------------------------------------------------------------------------
renew_cmd=("$ROOT/setup-letsencrypt.sh" --renew --data-path "$data_path" --nginx-reload "$nginx_reload")
if [ "$local_mode" = 1 ]; then renew_cmd+=(--local); fi
line="$(printf '%q ' "${renew_cmd[@]}")"
case "$line" in *%*) die "the renewal command contains %, which cron does not allow: $line" ;; esac
entry="$((RANDOM % 60)) */12 * * * root $line>> $data_path/renew.log 2>&1"
if [ "$install_cron" = 1 ]; then
  if [ -d "$(dirname "$cron_file")" ] && { [ -w "$(dirname "$cron_file")" ] || [ -w "$cron_file" ]; }; then
    printf '# mssql-mcp: renew the Let'"'"'s Encrypt certificate twice a day (written by setup-letsencrypt.sh)\n%s\n' \
      "$entry" > "$cron_file"
    say "renewal installed in $cron_file"
  else
    say "could not write $cron_file; add this line to root's crontab (without the 'root' field):"
    say "  $entry"
  fi
fi
say "done: https://$domain/"
