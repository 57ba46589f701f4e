import type { ChatMessage } from "../../../ports/provider.ts";

export interface AnthropicConversation {
  system: string | undefined;
  messages: { role: "user" | "assistant"; content: string }[];
}

/**
 * Anthropic takes the system prompt apart from the turns, and wants turns that alternate and
 * start with the user: system messages are joined, consecutive same-role turns merged.
 */
export function toAnthropicConversation(messages: readonly ChatMessage[]): AnthropicConversation {
  const system = messages.filter((m) => m.role === "system").map((m) => m.content);
  const turns: AnthropicConversation["messages"] = [];
  for (const m of messages) {
    if (m.role === "system") continue;
    const last = turns[turns.length - 1];
    if (last && last.role === m.role) last.content = `${last.content}\n\n${m.content}`;
    else turns.push({ role: m.role, content: m.content });
  }
  if (turns[0]?.role !== "user") turns.unshift({ role: "user", content: "(continue)" });
  return { system: system.length > 0 ? system.join("\n\n") : undefined, messages: turns };
}
