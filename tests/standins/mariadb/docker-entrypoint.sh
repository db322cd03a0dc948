#!/bin/bash
# Entrypoint of edahub's TEST STAND-IN for the official mariadb:11.8 image.
#
# Written for edahub after the behaviour of the docker-library mariadb
# entrypoint, limited to what edahub uses:
#   MARIADB_ROOT_PASSWORD[_FILE]  required on first start
#   MARIADB_DATABASE              optional database to create
#   MARIADB_USER, MARIADB_PASSWORD[_FILE]  optional user, ALL on MARIADB_DATABASE
#   /docker-entrypoint-initdb.d/  *.sh (executed if executable, else sourced),
#                                 *.sql, *.sql.gz, *.sql.xz, *.sql.zst, sorted
# Initialisation runs only when the datadir holds no `mysql` schema yet.
# Sourced *.sh scripts may call docker_process_sql and mysql_note/warn/error,
# as with the official image; any script may run
#   mariadb -uroot -p"$MARIADB_ROOT_PASSWORD"
# which reaches the temporary server through its socket.
set -eo pipefail
shopt -s nullglob

mysql_log() {
	local level=$1
	shift
	printf '%s [%s] [Entrypoint]: %s\n' "$(date --rfc-3339=seconds)" "$level" "$*"
}

mysql_note() {
	mysql_log Note "$@"
}

mysql_warn() {
	mysql_log Warn "$@" >&2
}

# Prints the problem and its fix, then stops the container.
mysql_error() {
	mysql_log ERROR "$@" >&2
	exit 1
}

# Reads a secret from VAR or from the file named by VAR_FILE (Docker secrets),
# exports VAR and unsets VAR_FILE.
file_env() {
	local var=$1
	local file_var="${var}_FILE"
	local default=${2:-}
	if [[ -n ${!var:-} && -n ${!file_var:-} ]]; then
		mysql_error "Both $var and $file_var are set. Fix: set only one of them."
	fi
	local value=$default
	if [[ -n ${!var:-} ]]; then
		value=${!var}
	elif [[ -n ${!file_var:-} ]]; then
		if [[ ! -r ${!file_var} ]]; then
			mysql_error "$file_var=${!file_var} is not a readable file (running as uid $(id -u))." \
				"Fix: mount the secret at that path, readable by uid $(id -u)."
		fi
		value=$(<"${!file_var}")
	fi
	export "$var"="$value"
	unset "$file_var"
}

# Prints the value of a server option (e.g. datadir) as mariadbd would see it,
# honouring /etc/mysql and any options given on the command line.
mysql_get_config() {
	local name=$1
	shift
	"$@" --verbose --help 2>/dev/null | awk -v name="$name" '$1 == name && NF == 2 { print $2; exit }'
}

# Restarts this script as the mysql user when the container runs as root,
# after handing the datadir to mysql (e.g. a bind mount created by root).
step_down_from_root() {
	if [[ $(id -u) != 0 ]]; then
		return
	fi
	mkdir -p "$DATADIR"
	find "$DATADIR" \! -user mysql -exec chown mysql:mysql '{}' +
	mysql_note "Switching to dedicated user 'mysql'"
	export HOME=/var/lib/mysql
	exec setpriv --reuid=mysql --regid=mysql --init-groups "${BASH_SOURCE[0]}" "$@"
}

setup_env() {
	DATADIR=$(mysql_get_config datadir "$@")
	SOCKET=$(mysql_get_config socket "$@")
	DATADIR=${DATADIR%/}
	: "${DATADIR:=/var/lib/mysql}" "${SOCKET:=/run/mysqld/mysqld.sock}"
	file_env MARIADB_ROOT_PASSWORD
	file_env MARIADB_PASSWORD
	export MARIADB_DATABASE=${MARIADB_DATABASE:-} MARIADB_USER=${MARIADB_USER:-}
	DATABASE_ALREADY_EXISTS=
	if [[ -d $DATADIR/mysql ]]; then
		DATABASE_ALREADY_EXISTS=true
	fi
}

verify_minimum_env() {
	if [[ -z $MARIADB_ROOT_PASSWORD ]]; then
		mysql_error "The database is uninitialized and no root password is set." \
			"Fix: set MARIADB_ROOT_PASSWORD, or MARIADB_ROOT_PASSWORD_FILE to a file holding it" \
			"(this stand-in has no MARIADB_ALLOW_EMPTY_ROOT_PASSWORD or MARIADB_RANDOM_ROOT_PASSWORD)."
	fi
	if [[ -n $MARIADB_USER && -z $MARIADB_PASSWORD ]]; then
		mysql_error "MARIADB_USER=$MARIADB_USER is set but it has no password." \
			"Fix: set MARIADB_PASSWORD or MARIADB_PASSWORD_FILE, or unset MARIADB_USER."
	fi
	if [[ $MARIADB_USER == root ]]; then
		mysql_error "MARIADB_USER=root is not allowed: root is created from MARIADB_ROOT_PASSWORD." \
			"Fix: unset MARIADB_USER or choose another name."
	fi
}

ensure_datadir_writable() {
	if [[ ! -w $DATADIR ]]; then
		mysql_error "The datadir $DATADIR is not writable by uid $(id -u)." \
			"Fix: use a named volume, or chown the bind-mounted directory to $(id -u):$(id -g)."
	fi
}

# Creates the system tables; root@localhost has an empty password until
# docker_setup_db sets it, and the server is not reachable from outside yet.
init_database_dir() {
	mysql_note "Initializing database files"
	mariadb-install-db --datadir="$DATADIR" --rpm \
		--auth-root-authentication-method=normal --skip-test-db --skip-name-resolve \
		--default-time-zone=SYSTEM --enforce-storage-engine= --skip-log-bin \
		--expire-logs-days=0 --loose-innodb_buffer_pool_load_at_startup=0 \
		--loose-innodb_buffer_pool_dump_at_shutdown=0 "${@:2}"
	mysql_note "Database files initialized"
}

# Runs the mariadb client as root against the temporary server's socket, in
# MARIADB_DATABASE when set. SQL comes from stdin or from client arguments.
docker_process_sql() {
	local password=$MARIADB_ROOT_PASSWORD
	if [[ $1 == --dont-use-mysql-root-password ]]; then
		password=
		shift
	fi
	if [[ -n $MARIADB_DATABASE ]]; then
		set -- --database="$MARIADB_DATABASE" "$@"
	fi
	MYSQL_PWD=$password mariadb --protocol=socket --socket="$SOCKET" -uroot -hlocalhost "$@"
}

# Starts a server that listens on the socket only, so that clients cannot
# connect (and the healthcheck cannot pass) before initialisation is over.
temp_server_start() {
	mysql_note "Starting temporary server"
	"$@" --skip-networking --socket="$SOCKET" --default-time-zone=SYSTEM \
		--wsrep_on=OFF --expire-logs-days=0 --skip-slave-start \
		--loose-innodb_buffer_pool_load_at_startup=0 &
	TEMP_SERVER_PID=$!
	local _
	for _ in {1..60}; do
		if docker_process_sql --dont-use-mysql-root-password --database=mysql <<<'SELECT 1' &>/dev/null; then
			mysql_note "Temporary server started."
			return
		fi
		if ! kill -0 "$TEMP_SERVER_PID" 2>/dev/null; then
			mysql_error "The temporary server exited during initialization; see its log above." \
				"Fix: correct the error it reports, then remove the volume at $DATADIR and start again."
		fi
		sleep 1
	done
	mysql_error "The temporary server did not accept connections within 60 s." \
		"Fix: check the server log above; remove the volume at $DATADIR and start again."
}

temp_server_stop() {
	mysql_note "Stopping temporary server"
	kill "$TEMP_SERVER_PID"
	wait "$TEMP_SERVER_PID"
	mysql_note "Temporary server stopped"
}

# Quotes a value as an SQL string literal (backslash escapes are enabled).
sql_string() {
	local value=${1//\\/\\\\}
	value=${value//$'\n'/\\n}
	printf "'%s'" "${value//\'/\\\'}"
}

# Quotes a value as an SQL identifier.
sql_identifier() {
	# shellcheck disable=SC2016 # the backticks are literal SQL quotes
	printf '`%s`' "${1//\`/\`\`}"
}

random_password() {
	head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n'
}

# Credentials for healthcheck.sh: an account that can only connect (USAGE),
# with a random password kept in the datadir, readable by mysql only, as the
# official image does.
write_healthcheck_config() {
	local password=$1
	(
		umask 077
		printf '[mariadb-client]\nport=3306\nsocket=%s\nuser=healthcheck\npassword=%s\n' \
			"$SOCKET" "$password" >"$DATADIR/.my-healthcheck.cnf.tmp"
	)
	mv "$DATADIR/.my-healthcheck.cnf.tmp" "$DATADIR/.my-healthcheck.cnf"
}

# Secures root (password for root@localhost and root@'%', like the official
# image) and creates the healthcheck account, the optional database and user.
docker_setup_db() {
	local root_password healthcheck_password host sql_create_user=''
	root_password=$(sql_string "$MARIADB_ROOT_PASSWORD")
	healthcheck_password=$(random_password)
	if [[ -n $MARIADB_DATABASE ]]; then
		mysql_note "Creating database ${MARIADB_DATABASE}"
	fi
	if [[ -n $MARIADB_USER ]]; then
		mysql_note "Creating user ${MARIADB_USER}"
		sql_create_user="CREATE USER $(sql_string "$MARIADB_USER")@'%' IDENTIFIED BY $(sql_string "$MARIADB_PASSWORD");"
		if [[ -n $MARIADB_DATABASE ]]; then
			mysql_note "Giving user ${MARIADB_USER} access to schema ${MARIADB_DATABASE}"
			sql_create_user+=" GRANT ALL ON $(sql_identifier "$MARIADB_DATABASE").* TO $(sql_string "$MARIADB_USER")@'%';"
		fi
	fi
	# Like the official image: root@MARIADB_ROOT_HOST (default '%') besides
	# root@localhost, unless MARIADB_ROOT_HOST=localhost.
	local root_host=${MARIADB_ROOT_HOST:-%} sql_remote_root=''
	if [[ $root_host != localhost ]]; then
		sql_remote_root="CREATE USER 'root'@$(sql_string "$root_host") IDENTIFIED BY ${root_password};
		GRANT ALL ON *.* TO 'root'@$(sql_string "$root_host") WITH GRANT OPTION;
		GRANT PROXY ON ''@'%' TO 'root'@$(sql_string "$root_host") WITH GRANT OPTION;"
	fi
	# --database=mysql overrides MARIADB_DATABASE, which does not exist yet.
	docker_process_sql --dont-use-mysql-root-password --database=mysql --binary-mode <<-EOSQL
		SET @@SESSION.SQL_LOG_BIN=0;
		SET @@SESSION.SQL_MODE=REPLACE(@@SESSION.SQL_MODE, 'NO_BACKSLASH_ESCAPES', '');
		DROP USER IF EXISTS root@'127.0.0.1', root@'::1', ''@'localhost', ''@'%';
		EXECUTE IMMEDIATE CONCAT('DROP USER IF EXISTS root@\'', @@hostname, '\', \'\'@\'', @@hostname, '\'');
		SET PASSWORD FOR 'root'@'localhost' = PASSWORD(${root_password});
		${sql_remote_root}
		$(for host in 127.0.0.1 ::1 localhost; do
			printf "CREATE USER 'healthcheck'@'%s' IDENTIFIED BY '%s';\n" "$host" "$healthcheck_password"
		done)
		SET @@SESSION.SQL_LOG_BIN=1;
		${MARIADB_DATABASE:+CREATE DATABASE IF NOT EXISTS $(sql_identifier "$MARIADB_DATABASE");}
		${sql_create_user}
	EOSQL
	write_healthcheck_config "$healthcheck_password"
}

# Runs initdb.d files in the order the shell's glob sorts them.
docker_process_init_files() {
	local f
	for f in "$@"; do
		case "$f" in
			*.sh)
				if [[ -x $f ]]; then
					mysql_note "$0: running $f"
					"$f"
				else
					mysql_note "$0: sourcing $f"
					# shellcheck disable=SC1090
					. "$f"
				fi
				;;
			*.sql) mysql_note "$0: running $f"; docker_process_sql <"$f" ;;
			*.sql.gz) mysql_note "$0: running $f"; gzip -dc "$f" | docker_process_sql ;;
			*.sql.xz) mysql_note "$0: running $f"; xz -dc "$f" | docker_process_sql ;;
			*.sql.zst) mysql_note "$0: running $f"; zstd -dc "$f" | docker_process_sql ;;
			*) mysql_warn "$0: ignoring $f" ;;
		esac
	done
}

wants_help() {
	local arg
	for arg; do
		case "$arg" in
			-'?' | --help | --print-defaults | -V | --version) return 0 ;;
		esac
	done
	return 1
}

_main() {
	if [[ ${1:0:1} == - ]]; then
		set -- mariadbd "$@"
	fi
	if [[ $1 == mariadbd || $1 == mysqld ]] && ! wants_help "$@"; then
		setup_env "$@"
		step_down_from_root "$@"
		mysql_note "Entrypoint script for edahub's MariaDB test stand-in started."
		ensure_datadir_writable
		if [[ -n $DATABASE_ALREADY_EXISTS ]]; then
			mysql_note "Database directory $DATADIR already contains a database: Skipping initialization"
		else
			verify_minimum_env
			init_database_dir "$@"
			temp_server_start "$@"
			docker_setup_db
			docker_process_init_files /docker-entrypoint-initdb.d/*
			temp_server_stop
			mysql_note "MariaDB init process done. Ready for start up."
		fi
	fi
	exec "$@"
}

# Sourcing this file (e.g. in tests) defines the functions without running.
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
	_main "$@"
fi
