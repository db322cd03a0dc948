// edahub: the hub's provisioning account and root's network restriction, created once
// with the data volume. Run by the image's entrypoint with mongosh as root.
//
// MongoDB cannot scope user administration to databases matching a name pattern, so
// the role below is as narrow as MongoDB allows: manage users and roles, list and drop
// databases, and nothing else: no read or write of any data. The account lives only in
// the hub; users' containers never see it.

const password = process.env.EDAHUB_MONGODB_PROVISIONER_PASSWORD || "";
if (!/^[A-Za-z0-9]+$/.test(password)) {
  throw new Error(
    "EDAHUB_MONGODB_PROVISIONER_PASSWORD is missing or not letters and digits only. " +
    "How to fix: run python3 scripts/bootstrap.py to generate it in .env."
  );
}

const admin = db.getSiblingDB("admin");
admin.createRole({
  role: "edahubProvisioner",
  privileges: [
    {
      resource: { db: "", collection: "" },
      actions: ["createUser", "dropUser", "changePassword", "grantRole", "revokeRole",
                "viewUser", "viewRole", "dropDatabase"],
    },
    { resource: { cluster: true }, actions: ["listDatabases"] },
  ],
  roles: [],
});
// It logs in only from the hub's fixed address (EDAHUB_HUB_ADDRESS, from compose.yaml).
const hub = process.env.EDAHUB_HUB_ADDRESS || "";
if (!/^[0-9]{1,3}(\.[0-9]{1,3}){3}$/.test(hub)) {
  throw new Error(
    "EDAHUB_HUB_ADDRESS (the hub's address, set by compose.yaml) is missing or not an IPv4 " +
    "address. How to fix: start the stack with edahub's compose.yaml and a valid " +
    "EDAHUB_NETWORK_PREFIX."
  );
}
admin.createUser({
  user: "edahub_provisioner", pwd: password, roles: ["edahubProvisioner"],
  authenticationRestrictions: [{ clientSource: [hub] }],
});

// root may log in only from inside the database container (backups, admin work), so
// neither a user's container nor anything else on the network can use it.
admin.updateUser(process.env.MONGO_INITDB_ROOT_USERNAME || "root", {
  authenticationRestrictions: [{ clientSource: ["127.0.0.1", "::1"] }],
});
print(`edahub: created the provisioning account edahub_provisioner (logins from ${hub} only)`);
