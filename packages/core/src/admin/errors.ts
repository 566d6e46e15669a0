import { NotFoundError } from '../errors';

/** Some ids given to a hand repair (claim, ack) are not pending in the group. Nothing was changed. */
export class NotPendingError extends NotFoundError {
  /** The ids that are not pending. */
  readonly ids: string[];
  constructor(action: string, topic: string, group: string, ids: string[]) {
    super(`${ids.length === 1 ? 'id' : 'ids'} ${ids.join(', ')} ${ids.length === 1 ? 'is' : 'are'} not pending in group "${group}" of topic "${topic}"; nothing was ${action}. ` +
      `List the pending entries with \`streamfan pending ${topic} ${group}\` (ids of retries and replays are those of the redelivery stream).`);
    this.ids = ids;
  }
}
