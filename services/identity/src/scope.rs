//! The SQL twin of the policy's scope check: which rows a principal may see at all. Lists and searches
//! filter with it, so a list never shows what a get would refuse; a test holds the two to each other.

use haven_authz::{Policy, Principal, Scope};
use sea_orm::sea_query::{Query, SelectStatement};
use sea_orm::{ColumnTrait, Condition};

use crate::entity::{affiliation, child};

/// The condition on `children` rows the principal may see, or `None` when it may see none.
pub(crate) fn visible_rows(policy: &Policy, principal: &Principal) -> Option<Condition> {
    let mut any = Condition::any();
    let mut covered = false;
    for grant in policy.grants_of(principal) {
        if grant.read.is_empty() && grant.write.is_empty() {
            continue;
        }
        let condition = match grant.scope {
            Scope::Own => Condition::all().add(child::Column::Owner.eq(principal.sub.clone())),
            Scope::Agency => {
                Condition::all().add(child::Column::Agency.eq(principal.agency.clone()))
            }
            Scope::Affiliated => Condition::all()
                .add(child::Column::Id.in_subquery(affiliated_children(&principal.agency))),
            Scope::TracingConsentElsewhere => Condition::all()
                .add(child::Column::ConsentForTracing.eq(true))
                .add(child::Column::Agency.ne(principal.agency.clone())),
            Scope::All => Condition::all(),
            // Referrals arrive with a later issue: nothing is referred yet.
            Scope::Referred => continue,
        };
        any = any.add(condition);
        covered = true;
    }
    covered.then_some(any)
}

fn affiliated_children(organisation: &str) -> SelectStatement {
    Query::select()
        .column(affiliation::Column::ChildId)
        .from(affiliation::Entity)
        .and_where(affiliation::Column::Organisation.eq(organisation))
        .to_owned()
}
