// edahub: root's network restriction, set once with the data volume. Run by the image's
// entrypoint with mongosh as root.
//
// root may log in only from inside the database container's network namespace, which
// the mongodb-accounts service shares (it makes users' accounts for the hub; compose.yaml):
// neither a user's container nor anything else on the network can use it. The hub has no
// MongoDB account: MongoDB cannot confine one that manages users to users' databases
// (a role with grantRole on them may grant itself root).

const admin = db.getSiblingDB("admin");
admin.updateUser(process.env.MONGO_INITDB_ROOT_USERNAME || "root", {
  authenticationRestrictions: [{ clientSource: ["127.0.0.1", "::1"] }],
});
print("edahub: root accepts logins from inside the database container only");
