//! The family links RPC: the relatives a child is linked to by confirmed matches (the inquirer, and
//! siblings found through the same request).

use haven_authz::Principal;
use haven_platform::ServiceError;
use haven_proto::family_tracing::{FamilyLink, ListFamilyLinksRequest, ListFamilyLinksResponse};

use crate::entity::family_link;
use crate::service::{FamilyTracingService, TRACING_CLASS, timestamp};
use crate::validate::{self, Violations, invalid};

impl FamilyTracingService {
    pub(crate) async fn family_links(
        &self,
        principal: &Principal,
        request: ListFamilyLinksRequest,
    ) -> Result<ListFamilyLinksResponse, ServiceError> {
        let mut v = Violations::default();
        validate::required_id(&mut v, "child_id", &request.child_id);
        invalid(v)?;
        let rows = self.store.links_of(&request.child_id).await?;
        let request_ids: Vec<String> = rows.iter().map(|l| l.tracing_request_id.clone()).collect();
        let requests = self.store.requests(request_ids).await?;
        // A link is tracing data of its request: shown only to those who may read that request.
        let rows: Vec<family_link::Model> = rows
            .into_iter()
            .filter(|link| {
                requests
                    .iter()
                    .any(|r| r.id == link.tracing_request_id && self.may_read_request(principal, r))
            })
            .collect();
        let names = self.store.open_link_names(&rows).await?;
        let links: Vec<FamilyLink> = rows
            .into_iter()
            .zip(names)
            .map(|(link, relative_name)| FamilyLink {
                child_id: link.child_id,
                relative_child_id: link.relative_child_id,
                relative_name,
                relation: link.relation,
                tracing_request_id: link.tracing_request_id,
                linked_at: Some(timestamp(link.linked_at_us)),
            })
            .collect();
        if !links.is_empty() {
            self.audit
                .record(vec![Self::entry(
                    principal,
                    "read-links",
                    "/haven.family_tracing.v1.FamilyTracing/ListFamilyLinks",
                    &request.child_id,
                    TRACING_CLASS,
                )])
                .await?;
        }
        Ok(ListFamilyLinksResponse { links })
    }
}
