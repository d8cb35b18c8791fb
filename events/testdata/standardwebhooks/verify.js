// Reads a JSON array of {secret, id, timestamp, signature, body} on stdin
// and prints, for each, "ok" or the error the standardwebhooks library
// gives, one a line. The timestamp check is the library's own (five
// minutes' tolerance), against this machine's clock.
const { Webhook } = require("standardwebhooks");
let input = "";
process.stdin.on("data", (d) => (input += d));
process.stdin.on("end", () => {
  for (const c of JSON.parse(input)) {
    try {
      new Webhook(c.secret).verify(c.body, {
        "webhook-id": c.id,
        "webhook-timestamp": c.timestamp,
        "webhook-signature": c.signature,
      });
      console.log("ok");
    } catch (e) {
      console.log("refused: " + e.message);
    }
  }
});
