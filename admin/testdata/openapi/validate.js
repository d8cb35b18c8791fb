// Validates an OpenAPI document with @apidevtools/swagger-parser: the
// document's schema (3.1 through its JSON Schema) and every $ref.
const SwaggerParser = require("@apidevtools/swagger-parser");

SwaggerParser.validate(process.argv[2])
  .then((api) => {
    console.log(`valid: ${api.info.title} ${api.info.version}, OpenAPI ${api.openapi}`);
  })
  .catch((err) => {
    console.error(err.message);
    process.exit(1);
  });
