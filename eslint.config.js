import js from "@eslint/js";
import tseslint from "typescript-eslint";
import { createNodeResolver, importX } from "eslint-plugin-import-x";

// Database, Redis and AI SDK clients: only adapters (and the root that builds them) import these.
const DRIVERS = ["pg", "pg-*", "ioredis", "openai", "@anthropic-ai/*", "@electric-sql/*"];
// The composition root (src/sluice.ts, src/wiring.ts, src/root/): it builds the layers, so none of them imports it.
const ROOT = ["**/root/**", "**/sluice.ts", "**/wiring.ts"];
const WHOLE_SLUICE_PARAMETER = {
  selector:
    "TSTypeReference[typeName.name='Sluice']:not(TSTypeReference[typeName.name='Pick'] > TSTypeParameterInstantiation > TSTypeReference)",
  message: 'Take the services you use (Pick<Sluice, "jobs" | ...>), not the whole Sluice.',
};
// `await import(...)` escapes no-restricted-imports: the same boundary for lazy imports.
const NO_ADAPTER_IMPORT_EXPRESSION = {
  selector: "ImportExpression[source.value=/(^|\\/)adapters\\/|^(pg|ioredis|openai|@anthropic-ai\\/|@electric-sql\\/)/]",
  message: "Only the root (the files directly in src/, and src/root/) and adapters import adapters and drivers.",
};

export default tseslint.config(
  { ignores: ["dist/", "node_modules/", ".sluice/", "coverage/"] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: { allowDefaultProject: ["*.js", "bin/*.js", "scripts/*.mjs"] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/require-await": "off",
      "no-console": "error",
      // TypeScript checks undefined names better than this rule, and knows Node's globals.
      "no-undef": "off",
    },
  },
  {
    // Tests and benchmarks read untyped JSON answers all the time; everything shipped is checked.
    files: ["tests/**", "bench/**", "scripts/**", "**/*.test.ts"],
    rules: {
      "@typescript-eslint/no-unsafe-assignment": "off",
      "@typescript-eslint/no-unsafe-member-access": "off",
      "@typescript-eslint/no-unsafe-argument": "off",
      "@typescript-eslint/no-unsafe-call": "off",
      "@typescript-eslint/no-unsafe-return": "off",
    },
  },
  { files: ["**/*.js", "**/*.mjs"], ...tseslint.configs.disableTypeChecked },
  {
    // A cycle makes load order (and so which module sees an undefined import) an accident.
    files: ["src/**/*.ts"],
    plugins: { "import-x": importX },
    settings: {
      "import-x/resolver-next": [createNodeResolver({ extensions: [".ts", ".js"] })],
      "import-x/ignore": ["node_modules"],
      "import-x/extensions": [".ts"],
      "import-x/parsers": { "@typescript-eslint/parser": [".ts"] },
    },
    rules: { "import-x/no-cycle": ["error", { ignoreExternal: true }] },
  },
  {
    // Core holds no I/O: it never imports drivers, servers, SDKs or another layer.
    files: ["src/core/**/*.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        { patterns: [...DRIVERS, "bullmq", "**/adapters/**", "**/pipeline/**", "**/server/**", "**/cli/**", ...ROOT] },
      ],
    },
  },
  {
    // Ports are interfaces: the queue port names BullMQ's classes (types only), nothing runs here.
    files: ["src/ports/**/*.ts"],
    rules: {
      "no-restricted-imports": "off",
      "@typescript-eslint/no-restricted-imports": [
        "error",
        {
          patterns: [
            ...DRIVERS.map((group) => ({ group: [group] })),
            { group: ["bullmq"], allowTypeImports: true },
            { group: ["**/adapters/**", "**/pipeline/**", "**/server/**", "**/cli/**", ...ROOT] },
          ],
        },
      ],
    },
  },
  {
    // The behaviours reach engines only through ports; which adapter runs is the root's choice (src/sluice.ts, src/wiring.ts, src/root/).
    files: ["src/pipeline/**/*.ts"],
    ignores: ["**/*.test.ts"],
    rules: {
      "no-restricted-imports": ["error", { patterns: [...DRIVERS, "**/adapters/**", "**/server/**", "**/cli/**", ...ROOT] }],
      "no-restricted-syntax": ["error", NO_ADAPTER_IMPORT_EXPRESSION],
    },
  },
  {
    // The server and CLI steer through the pipeline (and the root); they never reach into adapters or drivers.
    files: ["src/server/**/*.ts", "src/cli/**/*.ts"],
    rules: {
      "no-restricted-imports": ["error", { patterns: [...DRIVERS, "**/adapters/**", "**/root/**"] }],
      "no-restricted-syntax": ["error", NO_ADAPTER_IMPORT_EXPRESSION],
    },
  },
  {
    // Routes and commands name the services they use (Pick<Sluice, ...>), so a route's reach is in its signature.
    files: ["src/server/**/*.ts", "src/cli/commands/**/*.ts"],
    ignores: ["src/server/app.ts"],
    rules: {
      "no-restricted-syntax": ["error", NO_ADAPTER_IMPORT_EXPRESSION, WHOLE_SLUICE_PARAMETER],
    },
  },
  { files: ["src/cli/**/*.ts", "scripts/**", "bench/**", "tests/**"], rules: { "no-console": "off" } },
);
