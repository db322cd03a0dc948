#!/bin/bash
# Entrypoint of edahub's TEST STAND-IN for the official mongo:8.0 image.
#
# Written for edahub after the behaviour of the docker-library mongo entrypoint,
# limited to what edahub uses:
#   MONGO_INITDB_ROOT_USERNAME[_FILE], MONGO_INITDB_ROOT_PASSWORD[_FILE]
#       both required on first start; the user is created in `admin` with role `root`
#   MONGO_INITDB_DATABASE   database for the *.js init scripts (default `test`)
#   /docker-entrypoint-initdb.d/  *.sh (sourced) and *.js (run with mongosh), sorted
# Initialisation runs only when the dbpath holds no data yet. As in the official
# image the temporary server listens on 127.0.0.1:27017 without --auth, so init
# scripts have root's powers; sourced *.sh scripts may use "${mongo[@]}".
# The server always runs with --auth (the official image adds it only when the
# root credentials are set) and, unless told otherwise, --bind_ip_all and
# --dbpath /data/db.
set -eo pipefail
shopt -s nullglob

mongo_log() {
	local level=$1
	shift
	printf '%s [%s] [Entrypoint]: %s\n' "$(date --rfc-3339=seconds)" "$level" "$*"
}

mongo_note() {
	mongo_log Note "$@"
}

# Prints the problem and its fix, then stops the container.
mongo_error() {
	mongo_log ERROR "$@" >&2
	exit 1
}

# Reads a secret from VAR or from the file named by VAR_FILE (Docker secrets),
# exports VAR and unsets VAR_FILE.
file_env() {
	local var=$1
	local file_var="${var}_FILE"
	if [[ -n ${!var:-} && -n ${!file_var:-} ]]; then
		mongo_error "Both $var and $file_var are set. Fix: set only one of them."
	fi
	local value=
	if [[ -n ${!var:-} ]]; then
		value=${!var}
	elif [[ -n ${!file_var:-} ]]; then
		if [[ ! -r ${!file_var} ]]; then
			mongo_error "$file_var=${!file_var} is not a readable file (running as uid $(id -u))." \
				"Fix: mount the secret at that path, readable by uid $(id -u)."
		fi
		value=$(<"${!file_var}")
	fi
	export "$var"="$value"
	unset "$file_var"
}

# mongod options come as `--name value` or `--name=value`.
has_arg() {
	local name=$1 arg
	shift
	for arg; do
		[[ $arg == "$name" || $arg == "$name"=* ]] && return 0
	done
	return 1
}

arg_value() {
	local name=$1
	shift
	while (($# > 0)); do
		case "$1" in
			"$name") printf '%s\n' "${2:-}"; return 0 ;;
			"$name"=*) printf '%s\n' "${1#"$name"=}"; return 0 ;;
		esac
		shift
	done
	return 1
}

# Sets FILTERED_ARGS to the arguments without option NAME (and its value when
# TAKES_VALUE is `value`).
without_arg() {
	local name=$1 takes_value=$2
	shift 2
	FILTERED_ARGS=()
	while (($# > 0)); do
		case "$1" in
			"$name")
				if [[ $takes_value == value ]]; then
					shift
				fi
				;;
			"$name"=*) ;;
			*) FILTERED_ARGS+=("$1") ;;
		esac
		shift
	done
}

wants_help() {
	has_arg --help "$@" || has_arg -h "$@" || has_arg --version "$@"
}

# Restarts this script as the mongodb user when the container runs as root,
# after handing the data directories to mongodb.
step_down_from_root() {
	if [[ $(id -u) != 0 ]]; then
		return
	fi
	mkdir -p "$DBPATH"
	find "$DBPATH" /data/configdb \! -user mongodb -exec chown mongodb:mongodb '{}' +
	mongo_note "Switching to dedicated user 'mongodb'"
	export HOME=/data/db
	exec setpriv --reuid=mongodb --regid=mongodb --init-groups "${BASH_SOURCE[0]}" "$@"
}

dbpath_has_data() {
	local path
	for path in WiredTiger journal local.0 storage.bson; do
		[[ -e $DBPATH/$path ]] && return 0
	done
	return 1
}

verify_credentials() {
	if [[ -n $MONGO_INITDB_ROOT_USERNAME && -n $MONGO_INITDB_ROOT_PASSWORD ]]; then
		return
	fi
	if [[ -n $MONGO_INITDB_ROOT_USERNAME || -n $MONGO_INITDB_ROOT_PASSWORD ]]; then
		mongo_error "Only one of MONGO_INITDB_ROOT_USERNAME and MONGO_INITDB_ROOT_PASSWORD is set;" \
			"both must be specified for a user to be created." \
			"Fix: set both (or MONGO_INITDB_ROOT_USERNAME_FILE / MONGO_INITDB_ROOT_PASSWORD_FILE)."
	fi
	if ! dbpath_has_data; then
		mongo_error "The database in $DBPATH is uninitialized and no root user is configured;" \
			"this stand-in always runs mongod with --auth." \
			"Fix: set MONGO_INITDB_ROOT_USERNAME and MONGO_INITDB_ROOT_PASSWORD (or their _FILE variants)."
	fi
}

ensure_dbpath_writable() {
	if [[ ! -w $DBPATH ]]; then
		mongo_error "The dbpath $DBPATH is not writable by uid $(id -u)." \
			"Fix: use a named volume, or chown the bind-mounted directory to $(id -u):$(id -g)."
	fi
}

# While this file exists, the image's mongosh wrapper serves only callers
# that carry EDAHUB_STANDIN_INITDB (this script and the init scripts), so the
# healthcheck cannot mistake the temporary server for the real one.
readonly INITDB_MARKER=/tmp/edahub-standin-initdb.running

# Starts mongod on 127.0.0.1:27017 without access control (and without the
# replica-set and key-file options that would imply it).
temp_server_start() {
	without_arg --auth flag "$@"
	without_arg --bind_ip_all flag "${FILTERED_ARGS[@]}"
	without_arg --bind_ip value "${FILTERED_ARGS[@]}"
	without_arg --port value "${FILTERED_ARGS[@]}"
	without_arg --keyFile value "${FILTERED_ARGS[@]}"
	without_arg --replSet value "${FILTERED_ARGS[@]}"
	mongo_note "Starting temporary server"
	export EDAHUB_STANDIN_INITDB=1
	: >"$INITDB_MARKER"
	"${FILTERED_ARGS[@]}" --bind_ip 127.0.0.1 --port 27017 &
	TEMP_SERVER_PID=$!
	mongo=(mongosh --host 127.0.0.1 --port 27017 --quiet)
	local _
	for _ in {1..60}; do
		if "${mongo[@]}" admin --eval 'quit(0)' &>/dev/null; then
			mongo_note "Temporary server started."
			return
		fi
		if ! kill -0 "$TEMP_SERVER_PID" 2>/dev/null; then
			mongo_error "The temporary mongod exited during initialization; see its log above." \
				"Fix: correct the error it reports, then remove the volume at $DBPATH and start again."
		fi
		sleep 1
	done
	mongo_error "The temporary mongod did not accept connections within 60 s." \
		"Fix: check its log above; remove the volume at $DBPATH and start again."
}

temp_server_stop() {
	mongo_note "Stopping temporary server"
	kill "$TEMP_SERVER_PID"
	wait "$TEMP_SERVER_PID"
	rm -f "$INITDB_MARKER"
	unset EDAHUB_STANDIN_INITDB
	mongo_note "Temporary server stopped"
}

# The credentials reach mongosh through its environment (process.env), so no
# quoting of user-supplied values into JavaScript is needed.
create_root_user() {
	mongo_note "Creating root user ${MONGO_INITDB_ROOT_USERNAME} in admin"
	"${mongo[@]}" admin --eval '
		db.createUser({
			user: process.env.MONGO_INITDB_ROOT_USERNAME,
			pwd: process.env.MONGO_INITDB_ROOT_PASSWORD,
			roles: [{ role: "root", db: "admin" }],
		});'
}

# Runs initdb.d files in the order the shell's glob sorts them.
process_init_files() {
	export MONGO_INITDB_DATABASE=${MONGO_INITDB_DATABASE:-test}
	local f
	for f in "$@"; do
		case "$f" in
			*.sh)
				mongo_note "$0: running $f"
				# shellcheck disable=SC1090
				. "$f"
				;;
			*.js)
				mongo_note "$0: running $f"
				"${mongo[@]}" "$MONGO_INITDB_DATABASE" "$f"
				;;
			*) mongo_note "$0: ignoring $f" ;;
		esac
	done
}

_main() {
	if [[ ${1:0:1} == - ]]; then
		set -- mongod "$@"
	fi
	if [[ $1 == mongod ]] && ! wants_help "$@"; then
		DBPATH=$(arg_value --dbpath "$@") || set -- "$@" --dbpath /data/db
		DBPATH=${DBPATH:-/data/db}
		step_down_from_root "$@"
		mongo_note "Entrypoint script for edahub's MongoDB test stand-in started."
		# Left behind if an earlier start of this container died mid-init.
		rm -f "$INITDB_MARKER"
		file_env MONGO_INITDB_ROOT_USERNAME
		file_env MONGO_INITDB_ROOT_PASSWORD
		verify_credentials
		ensure_dbpath_writable
		if dbpath_has_data; then
			mongo_note "Database directory $DBPATH already contains data: Skipping initialization"
		else
			temp_server_start "$@"
			create_root_user
			process_init_files /docker-entrypoint-initdb.d/*
			temp_server_stop
			mongo_note "MongoDB init process complete; ready for start up."
		fi
		has_arg --auth "$@" || set -- "$@" --auth
		if ! has_arg --bind_ip "$@" && ! has_arg --bind_ip_all "$@"; then
			set -- "$@" --bind_ip_all
		fi
		unset "${!MONGO_INITDB_@}"
	fi
	exec "$@"
}

# Sourcing this file (e.g. in tests) defines the functions without running.
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
	_main "$@"
fi
