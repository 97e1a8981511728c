"""Request and response shapes of the A3 migration API (reference `a3-correspondence.md` §1).

Input binding mimics ASP.NET's System.Text.Json "web" defaults (§1.1): property names match
case-insensitively, unknown properties are ignored, enums accept names or integer codes, and a
C#-`required` property that is missing fails deserialization (400). Optional values that the real
handler dereferences without a null check (sender, language, requestedPublishTime) are optional
here too, so that their absence reaches the handler and crashes it as the real one did (500).
"""

from __future__ import annotations

from datetime import datetime
from enum import IntEnum
from typing import Any, ClassVar
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator


class MigrateStatus(IntEnum):
    """`MigrateCorrespondenceStatusExt` (§1.3). 7, 8, 13, 14 become delete events."""

    Initialized = 0
    ReadyForPublish = 1
    Published = 2
    Fetched = 3
    Read = 4
    Replied = 5
    Confirmed = 6
    PurgedByRecipient = 7
    PurgedByAltinn = 8
    Archived = 9
    Reserved = 10
    Failed = 11
    AttachmentsDownloaded = 12
    SoftDeletedByRecipient = 13
    RestoredByRecipient = 14


DELETE_EVENT_TYPE = {
    MigrateStatus.PurgedByAltinn: 1,  # HardDeletedByServiceOwner
    MigrateStatus.PurgedByRecipient: 2,  # HardDeletedByRecipient
    MigrateStatus.SoftDeletedByRecipient: 3,
    MigrateStatus.RestoredByRecipient: 4,
}
"""Migration status code → `CorrespondenceDeleteEventType` (§1.3)."""

STATUS_OF_DELETE_EVENT = {v: k for k, v in DELETE_EVENT_TYPE.items()}


class NotificationChannelExt(IntEnum):
    """`NotificationChannelExt` (§1.3)."""

    Email = 0
    Sms = 1
    EmailPreferred = 2
    SmsPreferred = 3
    EmailAndSms = 4


class ReferenceTypeExt(IntEnum):
    """`ReferenceTypeExt` (§1.3)."""

    Generic = 0
    AltinnAppInstance = 1
    AltinnBrokerFileTransfer = 2
    DialogportenDialogId = 3
    DialogportenProcessId = 4
    DialogportenTransmissionId = 5
    DialogportenTransmissionType = 6


def _enum_names(data: Any, enums: dict[str, type[IntEnum]]) -> Any:
    """Turn enum names (any case) into their integer codes for the given field names."""
    if not isinstance(data, dict):
        return data
    for name, enum in enums.items():
        value = data.get(name)
        if isinstance(value, str) and not value.lstrip("-").isdigit():
            match = {m.name.lower(): m.value for m in enum}.get(value.lower())
            if match is not None:
                data[name] = match
    return data


class ApiModel(BaseModel):
    """Base: case-insensitive property names, unknown properties ignored, enum names accepted.

    `ENUMS` names the fields (exact spelling) whose enum may arrive as a name instead of a code.
    """

    model_config = ConfigDict(extra="ignore")
    ENUMS: ClassVar[dict[str, type[IntEnum]]] = {}

    @model_validator(mode="before")
    @classmethod
    def _bind_like_system_text_json(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        by_lower = {name.lower(): name for name in cls.model_fields}
        bound = {by_lower.get(str(key).lower(), key): value for key, value in data.items()}
        return _enum_names(bound, cls.ENUMS)


class StatusEventExt(ApiModel):
    """`MigrateCorrespondenceStatusEventExt`."""

    status: MigrateStatus
    statusText: str | None = ""
    statusChanged: AwareDatetime
    eventUserUuid: UUID | None = None
    eventUserPartyUuid: UUID

    ENUMS: ClassVar[dict[str, type[IntEnum]]] = {"status": MigrateStatus}


class NotificationExt(ApiModel):
    """`MigrateCorrespondenceNotificationExt`: every field required."""

    notificationChannel: NotificationChannelExt
    notificationSent: AwareDatetime
    altinn2NotificationId: int
    notificationAddress: str
    isReminder: bool

    ENUMS: ClassVar[dict[str, type[IntEnum]]] = {"notificationChannel": NotificationChannelExt}


class ForwardingEventExt(ApiModel):
    """`MigrateCorrespondenceForwardingEventExt`."""

    forwardedOnDate: AwareDatetime
    forwardedByPartyUuid: UUID
    forwardedByUserId: int = 0
    forwardedByUserUuid: UUID = UUID(int=0)
    forwardedToUserId: int | None = None
    forwardedToUserUuid: UUID | None = None
    forwardingText: str | None = Field(None, max_length=4000)
    forwardedToEmail: str | None = Field(None, max_length=1000)
    mailboxSupplier: str | None = None


class ContentExt(ApiModel):
    """`InitializeCorrespondenceContentExt`; `attachments` is ignored by migration."""

    language: str | None = None
    messageTitle: str | None = None
    messageSummary: str | None = None
    messageBody: str | None = None


class ExternalReferenceExt(ApiModel):
    """`{referenceValue, referenceType}`."""

    referenceValue: str
    referenceType: ReferenceTypeExt

    ENUMS: ClassVar[dict[str, type[IntEnum]]] = {"referenceType": ReferenceTypeExt}


class ReplyOptionExt(ApiModel):
    """`{linkURL, linkText}`."""

    linkURL: str
    linkText: str | None = None


RESOURCE_ID_PATTERN = r"^(urn:altinn:resource:)?[^:]{1,255}$"
ORG_PATTERN = r"^(urn:altinn:organization:identifier-no:\d{9}|0192:\d{9})$"


class BaseCorrespondenceExt(ApiModel):
    """`BaseCorrespondenceExt` with the DataAnnotations that apply to migration (§1.5.1)."""

    resourceId: str = Field(min_length=1, max_length=255, pattern=RESOURCE_ID_PATTERN)
    sender: str | None = Field(None, pattern=ORG_PATTERN)
    sendersReference: str = Field(min_length=1, max_length=4096)
    messageSender: str | None = Field(None, max_length=255)
    content: ContentExt | None = None
    requestedPublishTime: AwareDatetime | None = None
    dueDateTime: AwareDatetime | None = None
    externalReferences: list[ExternalReferenceExt] | None = Field(None, max_length=10)
    propertyList: dict[str, str] | None = None
    replyOptions: list[ReplyOptionExt] | None = None
    ignoreReservation: bool | None = None
    isConfirmationNeeded: bool = False
    isConfidential: bool = False


class CorrespondenceDataExt(ApiModel):
    """`MigrateInitializeCorrespondencesExt`; `idempotentKey` and `published` are ignored."""

    correspondence: BaseCorrespondenceExt
    recipients: list[str]
    existingAttachments: list[UUID] | None = None


class MigrateCorrespondenceExt(ApiModel):
    """`MigrateCorrespondenceExt`, the body of `POST /migration/correspondence`."""

    correspondenceData: CorrespondenceDataExt
    altinn2CorrespondenceId: int = Field(ge=-(2**31), le=2**31 - 1)
    eventHistory: list[StatusEventExt] = Field(default_factory=list)
    notificationHistory: list[NotificationExt] = Field(default_factory=list)
    forwardingHistory: list[ForwardingEventExt] = Field(default_factory=list)
    IsMigrating: bool = False
    created: AwareDatetime | None = None
    partyId: int = 0
    makeAvailable: bool = False


class MakeAvailableRequestExt(ApiModel):
    """`MakeCorrespondenceAvailableRequestExt` (§1.6)."""

    correspondenceId: UUID | None = None
    correspondenceIds: list[UUID] | None = None
    createEvents: bool = False
    batchSize: int | None = None
    asyncProcessing: bool = False
    createdFrom: AwareDatetime | None = None
    createdTo: AwareDatetime | None = None


class SyncStatusRequestExt(ApiModel):
    """`SyncCorrespondenceStatusEventRequestExt` (§1.7)."""

    correspondenceId: UUID
    syncedStatusEvents: list[StatusEventExt] = Field(min_length=1)


class SyncForwardingRequestExt(ApiModel):
    """`SyncCorrespondenceForwardingEventRequestExt` (§1.7)."""

    correspondenceId: UUID
    syncedForwardingEvents: list[ForwardingEventExt] = Field(min_length=1)


class SyncNotificationRequestExt(ApiModel):
    """`SyncCorrespondenceNotificationEventRequestExt` (§1.7)."""

    correspondenceId: UUID
    syncedNotificationEvents: list[NotificationExt] = Field(min_length=1)


class AttachmentStatusExt(BaseModel):
    """One entry of `attachmentStatuses`; `status` is always "Initialized" (§1.5.2)."""

    attachmentId: UUID
    status: str = "Initialized"


class CorrespondenceMigrationStatusExt(BaseModel):
    """Response of `POST /migration/correspondence` (§1.5.2)."""

    altinn2CorrespondenceId: int
    correspondenceId: UUID
    attachmentStatuses: list[AttachmentStatusExt] | None = None
    dialogId: str | None = None


class MakeAvailableStatusExt(BaseModel):
    """One entry of the make-available response (§1.6)."""

    correspondenceId: UUID
    dialogId: str | None = None
    error: str | None = None
    ok: bool


class MakeAvailableResponseExt(BaseModel):
    """Response of `POST /migration/makemigratedcorrespondenceavailable`."""

    statuses: list[MakeAvailableStatusExt]


def utc_second(value: datetime) -> datetime:
    """`value` converted to UTC and truncated to the whole second (the de-dup key, §1.5.3)."""
    from datetime import UTC

    return value.astimezone(UTC).replace(microsecond=0)
