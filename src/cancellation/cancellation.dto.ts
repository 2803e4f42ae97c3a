import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsString, MaxLength, ValidateIf } from 'class-validator';
import { ListQueryDto } from '../settings/instance.dto';
import { CANCELLATION_REQUEST_STATUSES, type CancellationRequestStatus } from './cancellation-request.entity';

const given = (_o: unknown, value: unknown) => value !== undefined;

/** The longest comment a requester or a decider may leave. */
export const COMMENT_MAX_LENGTH = 2000;

/**
 * The body of `POST …/cancellation-request`, `POST /cancellation-requests/:id/accept|reject` and
 * `POST /licenses/:id/cancel`: an optional comment.
 */
export class CancellationCommentDto {
  @ValidateIf(given)
  @IsString()
  @MaxLength(COMMENT_MAX_LENGTH)
  @ApiPropertyOptional({
    maxLength: COMMENT_MAX_LENGTH,
    description: 'Why; shown to the other side and audited.',
  })
  comment?: string;
}

/** `GET /cancellation-requests`: filters on top of the cursor and limit. */
export class CancellationRequestsQueryDto extends ListQueryDto {
  @ValidateIf(given)
  @IsIn(CANCELLATION_REQUEST_STATUSES)
  @ApiPropertyOptional({ enum: CANCELLATION_REQUEST_STATUSES })
  status?: CancellationRequestStatus;

  @ValidateIf(given)
  @IsString()
  @MaxLength(36)
  @ApiPropertyOptional({ maxLength: 36 })
  instanceId?: string;

  @ValidateIf(given)
  @IsString()
  @MaxLength(36)
  @ApiPropertyOptional({ maxLength: 36 })
  licenseId?: string;
}
