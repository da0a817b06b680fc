import type { AgentConnection, AgentConnectionOptions, AgentProfile } from './adapter';
import { AcpAgent } from './acp/acpAgent';
import { ClaudeStreamJsonAgent } from './claude/claudeStreamJsonAgent';
import type { ProcessOverrides } from './longLivedAgent';
import { OneShotAgent } from './oneshot/oneShotAgent';

/** One connection object per agent the pool runs; which class depends only on the profile's adapter. */
export function createAgentConnection(profile: AgentProfile, options: AgentConnectionOptions, overrides: ProcessOverrides = {}): AgentConnection {
  switch (profile.adapter) {
    case 'acp':
      return new AcpAgent(profile, options, overrides);
    case 'claude-stream-json':
      return new ClaudeStreamJsonAgent(profile, options, overrides);
    case 'json-lines':
    case 'plain':
      return new OneShotAgent(profile, options, overrides);
  }
}
