// ESLint for the whole repository: typescript-eslint's type-checked rules, with Prettier owning
// the layout (eslint-config-prettier turns the layout rules off). `npm test` runs it.
import js from "@eslint/js";
import prettier from "eslint-config-prettier";
import tseslint from "typescript-eslint";

export default tseslint.config(
  {
    ignores: [
      "**/dist/**",
      "**/node_modules/**",
      "proto/gen/**",
      "clients/**",
      ".proto-deps/**",
      "**/*.js",
      "**/*.mjs",
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // Connect handlers and activities are async by contract, with or without an await inside.
      "@typescript-eslint/require-await": "off",
      // Casts and non-null assertions hide what the types say: across modules, narrow instead.
      "@typescript-eslint/no-non-null-assertion": "error",
      "@typescript-eslint/consistent-type-assertions": [
        "error",
        { assertionStyle: "as", objectLiteralTypeAssertions: "never" },
      ],
      "@typescript-eslint/no-unused-vars": [
        "error",
        { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrors: "none" },
      ],
    },
  },
  {
    // Tests, harnesses, benchmarks and scripts: an assertion that a value is there fails the run
    // loudly where it is wrong, which is what a test wants; production code narrows instead.
    // They also read JSON answers and documents (`any`) to check them with expect, and hand
    // methods to expect and to spies.
    files: [
      "**/*.test.ts",
      "**/*.test-support.ts",
      "packages/testing/**",
      "e2e/**",
      "chaos/**",
      "bench/**",
      "scripts/**",
      "vitest.config.ts",
    ],
    rules: {
      "@typescript-eslint/no-non-null-assertion": "off",
      "@typescript-eslint/no-unsafe-assignment": "off",
      "@typescript-eslint/no-unsafe-member-access": "off",
      "@typescript-eslint/no-unsafe-return": "off",
      "@typescript-eslint/no-unsafe-argument": "off",
      "@typescript-eslint/unbound-method": "off",
    },
  },
  prettier,
);
