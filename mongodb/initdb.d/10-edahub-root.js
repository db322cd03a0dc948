// edahub: root's network restriction, set once with the data volume. Run by the image's
// entrypoint with mongosh as root.
//
// root may log in only from inside the database container and from the mongodb-accounts
// service's fixed address (EDAHUB_MONGODB_ACCOUNTS_ADDRESS, from compose.yaml; on a swarm
// the admin network's range, from compose.swarm.yaml), which
// makes users' accounts for the hub: neither a user's container nor anything else on the
// network can use it. The hub has no MongoDB account: MongoDB cannot confine one that
// manages users to users' databases (a role with grantRole on them may grant itself root).

const accounts = process.env.EDAHUB_MONGODB_ACCOUNTS_ADDRESS || "";
if (!/^[0-9]{1,3}(\.[0-9]{1,3}){3}(\/(1[6-9]|2[0-9]|3[0-2]))?$/.test(accounts)) {
  throw new Error(
    "EDAHUB_MONGODB_ACCOUNTS_ADDRESS (set by compose.yaml) is missing or not an IPv4 " +
    "address. How to fix: start the stack with edahub's compose.yaml and a valid " +
    "EDAHUB_NETWORK_PREFIX."
  );
}
const admin = db.getSiblingDB("admin");
admin.updateUser(process.env.MONGO_INITDB_ROOT_USERNAME || "root", {
  authenticationRestrictions: [{ clientSource: ["127.0.0.1", "::1", accounts] }],
});
print(`edahub: root accepts logins from inside the database container and ${accounts} only`);
