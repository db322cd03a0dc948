#!/bin/bash
# healthcheck.sh of edahub's TEST STAND-IN for the official mariadb:11.8 image.
#
# Usage: healthcheck.sh [--datadir=DIR] TEST...
# Runs the tests in the order given and exits 0 only if all of them pass:
#   --connect             the server accepts TCP connections on localhost:3306
#                         (an "access denied" answer counts: the server answered)
#   --innodb_initialized  InnoDB is available as a storage engine
# The official image's other tests (--innodb_buffer_pool_loaded, --galera_online,
# --replication, --mariadbupgrade, ...) are not emulated.
#
# Credentials, as in the official image: DATADIR/.my-healthcheck.cnf, written
# by docker-entrypoint.sh when it initialised the datadir; it holds a random
# password for the account 'healthcheck' (USAGE only, from localhost). For a
# datadir that has no such file, root with MARIADB_ROOT_PASSWORD or
# MARIADB_ROOT_PASSWORD_FILE from the container's environment is used instead.
set -eo pipefail

DATADIR=/var/lib/mysql

fail() {
	echo "healthcheck.sh: $*" >&2
	exit 1
}

# Runs the mariadb client with the healthcheck account, or root as fallback.
client() {
	local defaults_file=$DATADIR/.my-healthcheck.cnf
	if [[ -r $defaults_file ]]; then
		mariadb --defaults-file="$defaults_file" "$@"
		return
	fi
	local password=${MARIADB_ROOT_PASSWORD:-}
	if [[ -z $password && -r ${MARIADB_ROOT_PASSWORD_FILE:-} ]]; then
		password=$(<"$MARIADB_ROOT_PASSWORD_FILE")
	fi
	if [[ -z $password ]]; then
		fail "cannot read $defaults_file (run as uid 999 'mysql' or root), and no" \
			"MARIADB_ROOT_PASSWORD[_FILE] is set. Fix: run the check as the container's user."
	fi
	MYSQL_PWD=$password mariadb -uroot "$@"
}

check_connect() {
	local output
	if output=$(client --protocol=tcp -hlocalhost --skip-ssl -e 'SELECT 1' 2>&1); then
		return 0
	fi
	[[ $output == *"ERROR 1045"* ]] || fail "--connect: $output"
}

check_innodb_initialized() {
	local answer
	answer=$(client --skip-column-names -e \
		"SELECT 1 FROM information_schema.ENGINES WHERE engine = 'InnoDB' AND support IN ('YES', 'DEFAULT', 'ENABLED')" 2>&1) ||
		fail "--innodb_initialized: $answer"
	[[ $answer == 1 ]] || fail "--innodb_initialized: InnoDB is not available"
}

main() {
	local tests=() arg
	for arg; do
		case "$arg" in
			--datadir=*) DATADIR=${arg#--datadir=} ;;
			--connect) tests+=(check_connect) ;;
			--innodb_initialized) tests+=(check_innodb_initialized) ;;
			*) fail "unsupported argument '$arg'. Fix: use --connect and/or --innodb_initialized." ;;
		esac
	done
	if ((${#tests[@]} == 0)); then
		fail "no test given. Fix: healthcheck.sh --connect --innodb_initialized"
	fi
	for arg in "${tests[@]}"; do
		"$arg"
	done
}

main "$@"
