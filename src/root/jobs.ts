import { classifyByRules } from "../adapters/provider/local/rules.ts";
import type { SluiceConfig } from "../core/config.ts";
import type { Logger } from "../core/logger.ts";
import type { Accounting } from "../pipeline/accounting/index.ts";
import type { ResultCache } from "../pipeline/cache/index.ts";
import type { Intake } from "../pipeline/intake/index.ts";
import type { Admission } from "../pipeline/jobs/admission.ts";
import { createJobIndex, type JobIndex } from "../pipeline/jobs/job-index.ts";
import { createJobsService, type JobsService } from "../pipeline/jobs/jobs-service.ts";
import type { QueueManager } from "../pipeline/queues/queue-manager.ts";
import type { ProviderRuntime } from "../pipeline/runtime/index.ts";
import { builtinTasks } from "../pipeline/tasks/builtin.ts";
import { TaskRegistry } from "../pipeline/tasks/registry.ts";
import type { Webhooks } from "../pipeline/webhooks/index.ts";
import type { Store } from "../ports/store.ts";
import { BUILT_IN_QUEUES, DEFAULT_QUEUE } from "./queues.ts";

/** The task registry with the built-in tasks, on the config's default models and the local provider's rule classifier. */
export function builtinTaskRegistry(
  config: SluiceConfig,
  runtime: ProviderRuntime,
  deps: { cache: ResultCache; accounting: Accounting; providers: string[] },
): TaskRegistry {
  const tasks = new TaskRegistry();
  const { ai } = config;
  const defaults = {
    provider: ai.provider,
    model: ai.model,
    maxOutputTokens: ai.maxOutputTokens,
    embeddingProvider: ai.embeddingProvider,
    embeddingModel: ai.embeddingModel,
    embeddingDimensions: ai.embeddingDimensions,
  };
  for (const task of builtinTasks(runtime, {
    cache: deps.cache,
    accounting: deps.accounting,
    defaults,
    allowedModels: ai.allowedModels,
    providers: deps.providers,
    ruleClassifier: classifyByRules,
  }))
    tasks.register(task);
  return tasks;
}

export interface JobsDeps {
  store: Store;
  queues: QueueManager;
  intake: Intake;
  tasks: TaskRegistry;
  admission: Admission;
  webhooks: Webhooks;
  logger: Logger;
}

/** The jobs API's service over the job index: task jobs only, on the default queue unless told otherwise. */
export function openJobs(deps: JobsDeps): { jobIndex: JobIndex; jobs: JobsService } {
  const { logger } = deps;
  const jobIndex = createJobIndex(deps.store, logger.child({ component: "job-index" }));
  const jobs = createJobsService({
    index: jobIndex,
    queues: deps.queues,
    intake: deps.intake,
    tasks: deps.tasks,
    defaultQueue: DEFAULT_QUEUE,
    internalQueues: BUILT_IN_QUEUES,
    admit: deps.admission.atIntake,
    checkCallback: deps.webhooks.checkTarget,
    logger: logger.child({ component: "jobs" }),
  });
  return { jobIndex, jobs };
}
