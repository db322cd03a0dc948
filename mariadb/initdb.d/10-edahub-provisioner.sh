# edahub: the hub's provisioning account, created once with the data volume.
# Sourced by the image's entrypoint (not executable), so docker_process_sql runs the SQL
# as root on the initialisation server.
#
# Least privilege for its job: CREATE USER (global in MariaDB: create, alter and drop
# accounts), and ALL on databases matching `u_%` only, WITH GRANT OPTION so it can give
# each user their own database; SELECT on the shared `datasets` database, to grant it
# on. It cannot read or change any other database, including `mysql`.
#
# The pattern is `u_%`, not the exact `u\_%`: MariaDB (11.8, checked) ignores a
# database grant whose pattern holds an escaped wildcard when it checks GRANT OPTION,
# so with `u\_%` every GRANT fails with error 1044. `_` then matches any character:
# don't give other databases names that start with "u" and one more character.

edahub_create_provisioner() {
	local password="${EDAHUB_MARIADB_PROVISIONER_PASSWORD:-}"
	if [ -z "$password" ]; then
		echo >&2 "error: EDAHUB_MARIADB_PROVISIONER_PASSWORD is not set."
		echo >&2 "  How to fix: run python3 scripts/bootstrap.py to generate it in .env."
		exit 1
	fi
	case "$password" in
	*[!A-Za-z0-9]*)
		echo >&2 "error: EDAHUB_MARIADB_PROVISIONER_PASSWORD must contain only letters and digits."
		echo >&2 "  How to fix: let bootstrap generate it (empty it in .env on a new volume)."
		exit 1
		;;
	esac
	docker_process_sql --database=mysql <<-EOSQL
		CREATE DATABASE IF NOT EXISTS \`datasets\`;
		CREATE USER IF NOT EXISTS 'edahub_provisioner'@'%' IDENTIFIED BY '${password}';
		GRANT CREATE USER ON *.* TO 'edahub_provisioner'@'%';
		GRANT ALL PRIVILEGES ON \`u_%\`.* TO 'edahub_provisioner'@'%' WITH GRANT OPTION;
		GRANT SELECT ON \`datasets\`.* TO 'edahub_provisioner'@'%' WITH GRANT OPTION;
	EOSQL
	echo "edahub: created the provisioning account edahub_provisioner"
}

edahub_create_provisioner
