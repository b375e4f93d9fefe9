//! What an infra driver supports: the operations of [`InfraDriver`](super::InfraDriver)
//! ([`InfraOperation`]) and the set a driver declares ([`InfraCapabilities`]).

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::Result;
use crate::model::LcmOperationType;

/// One operation of an infra driver: a method of
/// [`InfraDriver`](super::InfraDriver), or one kind of its
/// [`rollback`](super::InfraDriver::rollback). Heal counts twice, as SOL002 (chosen
/// VNFCs) and SOL003 (the whole VNF) heal are separate abilities.
///
/// New operations may be added in any release, so a `match` on it needs a `_` arm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[non_exhaustive]
pub enum InfraOperation {
    /// Instantiate ([`InfraDriver::instantiate`](super::InfraDriver::instantiate));
    /// every driver has it.
    Instantiate,
    /// Terminate ([`InfraDriver::terminate`](super::InfraDriver::terminate)); every
    /// driver has it.
    Terminate,
    /// Scale and scale to level ([`InfraDriver::scale`](super::InfraDriver::scale)).
    Scale,
    /// Heal of chosen VNFCs (SOL002), [`InfraDriver::heal`](super::InfraDriver::heal)
    /// with `vnfcInstanceId`.
    HealVnfc,
    /// Heal of the whole VNF (SOL003), [`InfraDriver::heal`](super::InfraDriver::heal)
    /// without `vnfcInstanceId`.
    HealVnf,
    /// Change flavour
    /// ([`InfraDriver::change_flavour`](super::InfraDriver::change_flavour)).
    ChangeFlavour,
    /// Change external connectivity
    /// ([`InfraDriver::change_ext_conn`](super::InfraDriver::change_ext_conn)).
    ChangeExtConn,
    /// Change current VNF package
    /// ([`InfraDriver::change_vnfpkg`](super::InfraDriver::change_vnfpkg)).
    ChangeVnfpkg,
    /// Operate: start and stop ([`InfraDriver::operate`](super::InfraDriver::operate)).
    Operate,
    /// Rollback of instantiate.
    RollbackInstantiate,
    /// Rollback of scale and scale to level.
    RollbackScale,
    /// Rollback of change flavour.
    RollbackChangeFlavour,
    /// Rollback of change external connectivity.
    RollbackChangeExtConn,
    /// Rollback of change current VNF package.
    RollbackChangeVnfpkg,
}

impl InfraOperation {
    /// Every operation this version of the API knows, in declaration order.
    pub const ALL: &'static [Self] = &[
        Self::Instantiate,
        Self::Terminate,
        Self::Scale,
        Self::HealVnfc,
        Self::HealVnf,
        Self::ChangeFlavour,
        Self::ChangeExtConn,
        Self::ChangeVnfpkg,
        Self::Operate,
        Self::RollbackInstantiate,
        Self::RollbackScale,
        Self::RollbackChangeFlavour,
        Self::RollbackChangeExtConn,
        Self::RollbackChangeVnfpkg,
    ];

    /// The operations every driver has: instantiate and terminate.
    pub const REQUIRED: &'static [Self] = &[Self::Instantiate, Self::Terminate];

    /// The name people read, e.g. `scale`, `heal of single VNFCs`, `rollback of scale`.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Instantiate => "instantiate",
            Self::Terminate => "terminate",
            Self::Scale => "scale",
            Self::HealVnfc => "heal of single VNFCs",
            Self::HealVnf => "heal of the whole VNF",
            Self::ChangeFlavour => "change flavour",
            Self::ChangeExtConn => "change external connectivity",
            Self::ChangeVnfpkg => "change current VNF package",
            Self::Operate => "operate",
            Self::RollbackInstantiate => "rollback of instantiate",
            Self::RollbackScale => "rollback of scale",
            Self::RollbackChangeFlavour => "rollback of change flavour",
            Self::RollbackChangeExtConn => "rollback of change external connectivity",
            Self::RollbackChangeVnfpkg => "rollback of change current VNF package",
        }
    }

    /// Whether every driver has it (instantiate, terminate).
    pub const fn is_required(self) -> bool {
        matches!(self, Self::Instantiate | Self::Terminate)
    }

    /// Whether it is a rollback.
    pub const fn is_rollback(self) -> bool {
        matches!(
            self,
            Self::RollbackInstantiate
                | Self::RollbackScale
                | Self::RollbackChangeFlavour
                | Self::RollbackChangeExtConn
                | Self::RollbackChangeVnfpkg
        )
    }

    /// The rollback of this operation, for those that can be rolled back.
    pub const fn rollback(self) -> Option<Self> {
        match self {
            Self::Instantiate => Some(Self::RollbackInstantiate),
            Self::Scale => Some(Self::RollbackScale),
            Self::ChangeFlavour => Some(Self::RollbackChangeFlavour),
            Self::ChangeExtConn => Some(Self::RollbackChangeExtConn),
            Self::ChangeVnfpkg => Some(Self::RollbackChangeVnfpkg),
            _ => None,
        }
    }

    /// The operation a rollback undoes (`None` for an operation that is no rollback).
    pub const fn rolled_back(self) -> Option<Self> {
        match self {
            Self::RollbackInstantiate => Some(Self::Instantiate),
            Self::RollbackScale => Some(Self::Scale),
            Self::RollbackChangeFlavour => Some(Self::ChangeFlavour),
            Self::RollbackChangeExtConn => Some(Self::ChangeExtConn),
            Self::RollbackChangeVnfpkg => Some(Self::ChangeVnfpkg),
            _ => None,
        }
    }

    /// Its bit in [`InfraCapabilities`].
    const fn bit(self) -> u64 {
        let index = match self {
            Self::Instantiate => 0,
            Self::Terminate => 1,
            Self::Scale => 2,
            Self::HealVnfc => 3,
            Self::HealVnf => 4,
            Self::ChangeFlavour => 5,
            Self::ChangeExtConn => 6,
            Self::ChangeVnfpkg => 7,
            Self::Operate => 8,
            Self::RollbackInstantiate => 9,
            Self::RollbackScale => 10,
            Self::RollbackChangeFlavour => 11,
            Self::RollbackChangeExtConn => 12,
            Self::RollbackChangeVnfpkg => 13,
        };
        1 << index
    }
}

impl std::fmt::Display for InfraOperation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What an infra driver supports: a set of [`InfraOperation`]s, always holding
/// instantiate and terminate.
///
/// It is the one statement of what a driver does. The engine reads it before it accepts
/// a request, so nothing is accepted that would fail later, and offers the `rollback`
/// task of a failed operation (its link, the request) only when the rollback is in the
/// set. A driver implements exactly the methods of the
/// operations it declares: every other method keeps its default, which answers
/// [`Error::OperationNotSupported`](crate::Error::OperationNotSupported) naming the operation and the driver. The
/// infra-driver conformance suite (`testkit::infra`) checks both directions: every
/// declared operation works, every other one answers not supported.
///
/// ```
/// use tacker_core::infra::{InfraCapabilities, InfraOperation};
/// use tacker_core::model::LcmOperationType;
///
/// let caps = InfraCapabilities::new()
///     .with(InfraOperation::Scale)
///     .with(InfraOperation::RollbackScale);
/// assert!(caps.contains(InfraOperation::Terminate));
/// assert!(caps.supports(LcmOperationType::ScaleToLevel));
/// assert!(caps.supports_rollback(LcmOperationType::Scale));
/// assert!(!caps.supports(LcmOperationType::Operate));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct InfraCapabilities {
    operations: u64,
}

impl InfraCapabilities {
    /// Every operation this version of the API knows, for the simulator and for tests.
    /// A driver lists what it implements instead: an operation added to the API in a
    /// later release is then not claimed before the driver implements it.
    pub const ALL: Self = {
        let mut operations = 0;
        let mut i = 0;
        while i < InfraOperation::ALL.len() {
            operations |= InfraOperation::ALL[i].bit();
            i += 1;
        }
        Self { operations }
    };

    /// Instantiate and terminate only.
    pub const fn new() -> Self {
        Self {
            operations: InfraOperation::Instantiate.bit() | InfraOperation::Terminate.bit(),
        }
    }

    /// With `operation`.
    #[must_use]
    pub const fn with(self, operation: InfraOperation) -> Self {
        Self {
            operations: self.operations | operation.bit(),
        }
    }

    /// Without `operation` (instantiate and terminate stay).
    #[must_use]
    pub const fn without(self, operation: InfraOperation) -> Self {
        if operation.is_required() {
            return self;
        }
        Self {
            operations: self.operations & !operation.bit(),
        }
    }

    /// Whether `operation` is in the set.
    pub const fn contains(&self, operation: InfraOperation) -> bool {
        self.operations & operation.bit() != 0
    }

    /// The operations in the set, in the order of [`InfraOperation::ALL`].
    pub fn operations(&self) -> impl Iterator<Item = InfraOperation> + '_ {
        InfraOperation::ALL
            .iter()
            .copied()
            .filter(|operation| self.contains(*operation))
    }

    /// `Ok` when `operation` is in the set, else [`Error::OperationNotSupported`](crate::Error::OperationNotSupported)
    /// naming it and the driver of `vim_type`: for drivers whose set is configured at
    /// run time (the simulator) to refuse what they do not declare.
    pub fn require(&self, operation: InfraOperation, vim_type: &str) -> Result<()> {
        if self.contains(operation) {
            Ok(())
        } else {
            Err(super::not_supported(vim_type, operation))
        }
    }

    /// Whether the driver runs this LCM operation: for heal, at least one of the two
    /// kinds. Instantiate, terminate and modify info (which never reaches a driver) are
    /// always supported; snapshots never are.
    pub fn supports(&self, operation: LcmOperationType) -> bool {
        match operation {
            LcmOperationType::Instantiate
            | LcmOperationType::Terminate
            | LcmOperationType::ModifyInfo => true,
            LcmOperationType::Scale | LcmOperationType::ScaleToLevel => {
                self.contains(InfraOperation::Scale)
            }
            LcmOperationType::Heal => {
                self.contains(InfraOperation::HealVnf) || self.contains(InfraOperation::HealVnfc)
            }
            LcmOperationType::ChangeFlavour => self.contains(InfraOperation::ChangeFlavour),
            LcmOperationType::ChangeExtConn => self.contains(InfraOperation::ChangeExtConn),
            LcmOperationType::ChangeVnfpkg => self.contains(InfraOperation::ChangeVnfpkg),
            LcmOperationType::Operate => self.contains(InfraOperation::Operate),
            LcmOperationType::CreateSnapshot | LcmOperationType::RevertToSnapshot => false,
        }
    }

    /// Whether the driver can roll this LCM operation back (modify info, which never
    /// reaches a driver, always can).
    pub fn supports_rollback(&self, operation: LcmOperationType) -> bool {
        let rollback = match operation {
            LcmOperationType::ModifyInfo => return true,
            LcmOperationType::Instantiate => InfraOperation::RollbackInstantiate,
            LcmOperationType::Scale | LcmOperationType::ScaleToLevel => {
                InfraOperation::RollbackScale
            }
            LcmOperationType::ChangeFlavour => InfraOperation::RollbackChangeFlavour,
            LcmOperationType::ChangeExtConn => InfraOperation::RollbackChangeExtConn,
            LcmOperationType::ChangeVnfpkg => InfraOperation::RollbackChangeVnfpkg,
            _ => return false,
        };
        self.contains(rollback)
    }
}

impl Default for InfraCapabilities {
    /// Instantiate and terminate only.
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for InfraCapabilities {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.operations()).finish()
    }
}

impl FromIterator<InfraOperation> for InfraCapabilities {
    /// The given operations, and instantiate and terminate.
    fn from_iter<I: IntoIterator<Item = InfraOperation>>(operations: I) -> Self {
        operations.into_iter().fold(Self::new(), Self::with)
    }
}

impl Extend<InfraOperation> for InfraCapabilities {
    fn extend<I: IntoIterator<Item = InfraOperation>>(&mut self, operations: I) {
        for operation in operations {
            *self = self.with(operation);
        }
    }
}

impl Serialize for InfraCapabilities {
    /// The list of operations, e.g. `["INSTANTIATE", "TERMINATE", "SCALE"]`.
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        serializer.collect_seq(self.operations())
    }
}

impl<'de> Deserialize<'de> for InfraCapabilities {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        let operations = Vec::<InfraOperation>::deserialize(deserializer)?;
        Ok(operations.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Error;

    #[test]
    fn instantiate_and_terminate_are_always_there() {
        let caps = InfraCapabilities::new()
            .without(InfraOperation::Instantiate)
            .without(InfraOperation::Terminate);
        assert!(caps.contains(InfraOperation::Instantiate));
        assert!(caps.contains(InfraOperation::Terminate));
        assert_eq!(caps.operations().count(), 2);
        assert_eq!(caps, InfraCapabilities::default());
        assert!(caps.supports(LcmOperationType::Instantiate));
        assert!(!caps.supports_rollback(LcmOperationType::Instantiate));
    }

    #[test]
    fn all_holds_every_operation_once() {
        let all: Vec<InfraOperation> = InfraCapabilities::ALL.operations().collect();
        assert_eq!(all, InfraOperation::ALL);
        let bits: std::collections::BTreeSet<u64> =
            InfraOperation::ALL.iter().map(|op| op.bit()).collect();
        assert_eq!(
            bits.len(),
            InfraOperation::ALL.len(),
            "every bit is its own"
        );
        assert!(InfraOperation::ALL.len() <= 64);
    }

    #[test]
    fn rollbacks_pair_with_their_operations() {
        for op in InfraOperation::ALL {
            if let Some(rollback) = op.rollback() {
                assert!(rollback.is_rollback());
                assert_eq!(rollback.rolled_back(), Some(*op));
            }
            assert_eq!(op.is_rollback(), op.rolled_back().is_some());
        }
    }

    #[test]
    fn lcm_operations_map_to_the_set() {
        let heal_vnfc = InfraCapabilities::new().with(InfraOperation::HealVnfc);
        assert!(heal_vnfc.supports(LcmOperationType::Heal));
        assert!(!heal_vnfc.supports(LcmOperationType::Scale));
        let all = InfraCapabilities::ALL;
        for op in [
            LcmOperationType::Scale,
            LcmOperationType::ScaleToLevel,
            LcmOperationType::ChangeFlavour,
            LcmOperationType::ChangeExtConn,
            LcmOperationType::ChangeVnfpkg,
            LcmOperationType::Operate,
        ] {
            assert!(all.supports(op), "{op}");
            assert!(!InfraCapabilities::new().supports(op), "{op}");
        }
        assert!(!all.supports(LcmOperationType::CreateSnapshot));
        assert!(!all.supports_rollback(LcmOperationType::Heal));
        assert!(all.supports_rollback(LcmOperationType::ScaleToLevel));
        let error = InfraCapabilities::new()
            .require(InfraOperation::Operate, "ETSINFV.X.V_1")
            .expect_err("not declared");
        assert!(
            matches!(&error, Error::OperationNotSupported { operation, .. } if operation == "operate"),
            "{error:?}"
        );
    }

    #[test]
    fn serialized_as_the_list_of_operations() {
        let caps = InfraCapabilities::new().with(InfraOperation::Scale);
        let json = serde_json::to_value(caps).expect("json");
        assert_eq!(
            json,
            serde_json::json!(["INSTANTIATE", "TERMINATE", "SCALE"])
        );
        let back: InfraCapabilities = serde_json::from_value(json).expect("back");
        assert_eq!(back, caps);
    }
}
