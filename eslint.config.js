import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["dist/", "node_modules/", ".sluice/", "coverage/"] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: { allowDefaultProject: ["*.js", "bin/*.js", "scripts/*.mjs"] }, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/require-await": "off",
      "@typescript-eslint/no-unsafe-assignment": "off",
      "@typescript-eslint/no-unsafe-member-access": "off",
      "@typescript-eslint/no-unsafe-argument": "off",
      "@typescript-eslint/no-unsafe-call": "off",
      "@typescript-eslint/no-unsafe-return": "off",
      "no-console": "error",
      // TypeScript checks undefined names better than this rule, and knows Node's globals.
      "no-undef": "off",
    },
  },
  { files: ["**/*.js", "**/*.mjs"], ...tseslint.configs.disableTypeChecked },
  {
    // Core and ports hold no I/O: they never import drivers, servers or SDKs.
    files: ["src/core/**/*.ts", "src/ports/**/*.ts"],
    rules: {
      "no-restricted-imports": ["error", { patterns: ["bullmq", "pg", "ioredis", "fastify", "openai", "@anthropic-ai/*", "@electric-sql/*", "**/adapters/**", "**/server/**", "**/cli/**"] }],
    },
  },
  {
    // The server and CLI steer through the pipeline; they never reach into adapters' internals.
    files: ["src/pipeline/**/*.ts"],
    rules: { "no-restricted-imports": ["error", { patterns: ["**/server/**", "**/cli/**", "fastify"] }] },
  },
  { files: ["src/cli/**/*.ts", "scripts/**", "bench/**", "tests/**"], rules: { "no-console": "off" } },
);
