import assert from "node:assert/strict";
import { test } from "node:test";
import { chooseServiceSource, serviceVariables } from "../support/services.ts";

const fullEnv = Object.fromEntries(serviceVariables.map((name) => [name, `value-of-${name}`]));

test("explicit environment wins over everything else", () => {
  const source = chooseServiceSource({ env: fullEnv, localStackRunning: true, dockerReachable: true });
  assert.equal(source.kind, "environment");
  assert.equal(
    source.kind === "environment" && source.services.SHADOWDB_KAFKA_BROKERS,
    "value-of-SHADOWDB_KAFKA_BROKERS",
  );
});

test("a partial environment is an error naming what is missing, not a silent fallback", () => {
  const { SHADOWDB_MY_PROD_URL: _, ...partial } = fullEnv;
  const source = chooseServiceSource({ env: partial, localStackRunning: true, dockerReachable: true });
  assert.equal(source.kind, "none");
  assert.match(source.kind === "none" ? source.reason : "", /SHADOWDB_MY_PROD_URL/);
});

test("the local stack comes before testcontainers", () => {
  assert.equal(
    chooseServiceSource({ env: {}, localStackRunning: true, dockerReachable: true }).kind,
    "local-stack",
  );
  assert.equal(
    chooseServiceSource({ env: {}, localStackRunning: false, dockerReachable: true }).kind,
    "testcontainers",
  );
});

test("without any source the reason says how to get one", () => {
  const source = chooseServiceSource({ env: {}, localStackRunning: false, dockerReachable: false });
  assert.equal(source.kind, "none");
  assert.match(source.kind === "none" ? source.reason : "", /npm run stack -- up/);
});
