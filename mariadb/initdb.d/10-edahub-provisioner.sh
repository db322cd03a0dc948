# edahub: the hub's provisioning account, created once with the data volume.
# Sourced by the image's entrypoint (not executable), so docker_process_sql runs the SQL
# as root on the initialisation server.
#
# It may only call edahub's two procedures (05-edahub-provisioning.sql), which create or
# drop one user's database and account and nothing else.
#
# It logs in only from the hub's fixed address (EDAHUB_HUB_ADDRESS, from compose.yaml), or
# on a swarm from the admin network that only the hub and the databases join
# (address/netmask, from compose.swarm.yaml): its password is no use from a user's container.

edahub_create_provisioner() {
	local password="${EDAHUB_MARIADB_PROVISIONER_PASSWORD:-}"
	# On a swarm: a Swarm secret, named by EDAHUB_MARIADB_PROVISIONER_PASSWORD_FILE.
	if [ -z "$password" ] && [ -n "${EDAHUB_MARIADB_PROVISIONER_PASSWORD_FILE:-}" ]; then
		if ! password="$(cat -- "$EDAHUB_MARIADB_PROVISIONER_PASSWORD_FILE")"; then
			echo >&2 "error: cannot read EDAHUB_MARIADB_PROVISIONER_PASSWORD_FILE ($EDAHUB_MARIADB_PROVISIONER_PASSWORD_FILE)."
			echo >&2 "  How to fix: deploy with python3 scripts/bootstrap.py swarm deploy, which creates the secret."
			exit 1
		fi
	fi
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
	local hub="${EDAHUB_HUB_ADDRESS:-}"
	if ! printf '%s' "$hub" | grep -Eq '^[0-9]{1,3}(\.[0-9]{1,3}){3}(/255(\.[0-9]{1,3}){3})?$'; then
		echo >&2 "error: EDAHUB_HUB_ADDRESS (the hub's address, set by compose.yaml) is missing or not an IPv4 address (or address/netmask): '$hub'."
		echo >&2 "  How to fix: start the stack with edahub's compose.yaml and a valid EDAHUB_NETWORK_PREFIX."
		exit 1
	fi
	docker_process_sql --database=mysql <<-EOSQL
		CREATE USER IF NOT EXISTS 'edahub_provisioner'@'${hub}' IDENTIFIED BY '${password}';
		GRANT EXECUTE ON PROCEDURE \`edahub_admin\`.\`ensure_account\` TO 'edahub_provisioner'@'${hub}';
		GRANT EXECUTE ON PROCEDURE \`edahub_admin\`.\`drop_account\` TO 'edahub_provisioner'@'${hub}';
	EOSQL
	echo "edahub: created the provisioning account edahub_provisioner (logins from ${hub} only)"
}

edahub_create_provisioner
