/** Token and cost accounting per workspace, provider and model, and daily token budgets. */
export { createAccounting, msUntilUtcMidnight, type Accounting } from "./accounting.ts";
export { createBudgets, type Budgets } from "./budgets.ts";
export { createPriceTable } from "./prices.ts";
