//! Tiers as API Gateway enforces them: every organisation has its own API
//! Gateway API key, attached to the usage plan of its tier (rate, burst and
//! daily quota, declared in `template.yaml`). The authorizer returns the key's
//! value as `usageIdentifierKey`, so the limits apply per tenant.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use aws_sdk_apigateway::error::{DisplayErrorContext, SdkError};
pub use aws_sdk_apigateway::types::QuotaPeriodType;
use tokio::sync::OnceCell;

use store::aws::SdkConfig;

use domain::error::{Error, Result};
use domain::ids::{OrgId, UserId};
use domain::organization::{Organization, Tier, UsageKey, field};
use domain::tenancy::Tenant;
use store::config::TierPlans;
use store::records::{Changes, Condition};
use store::state::AppState;

/// The tag every usage key carries, naming the stack that made it: the auth
/// function's policy lets it create and delete only keys so tagged.
pub const STACK_TAG: &str = "toolbox:stack";

#[derive(Clone, Debug)]
pub struct UsagePlans {
    sdk: SdkConfig,
    stack: String,
    /// Built on first use: only sign-up and tier changes call API Gateway,
    /// so the other functions' binaries and cold starts carry none of it.
    client: Arc<OnceLock<aws_sdk_apigateway::Client>>,
    names: TierPlans,
    /// Plans by tier, looked up by name on first use.
    plans: Arc<OnceCell<HashMap<Tier, Plan>>>,
}

/// A tier's plan as API Gateway enforces it.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub id: String,
    /// Requests a second, and the burst above it.
    pub rate_limit: Option<f64>,
    pub burst_limit: Option<i32>,
    pub quota: Option<Quota>,
}

/// Requests allowed per period (`DAY`, `WEEK` or `MONTH`, starting at
/// midnight UTC, on Monday, on the first).
#[derive(Debug, Clone, PartialEq)]
pub struct Quota {
    pub limit: u64,
    pub period: QuotaPeriodType,
}

fn unavailable<E, R>(what: &'static str, err: SdkError<E, R>) -> Error
where
    E: std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    tracing::error!(error = %DisplayErrorContext(&err), what, "api gateway call failed");
    Error::Unavailable { message: "the usage plan service is unavailable".into(), retry_after_seconds: Some(5) }
}

impl UsagePlans {
    pub fn new(sdk: SdkConfig, names: TierPlans, stack: String) -> Self {
        Self { sdk, stack, client: Arc::new(OnceLock::new()), names, plans: Arc::new(OnceCell::new()) }
    }

    /// The function's usage plans: made on first use and kept with its
    /// state, so warm requests share the client and the plan ids.
    pub fn of(state: &AppState) -> Arc<Self> {
        let config = &state.config;
        state.lazy(|| Self::new(state.aws.sdk.clone(), config.usage_plans.clone(), config.stack_name.clone()))
    }

    fn client(&self) -> &aws_sdk_apigateway::Client {
        self.client.get_or_init(|| aws_sdk_apigateway::Client::new(&self.sdk))
    }

    fn name(&self, tier: Tier) -> &str {
        match tier {
            Tier::Free => &self.names.free,
            Tier::Pro => &self.names.pro,
            Tier::Enterprise => &self.names.enterprise,
        }
    }

    /// The id of a tier's plan. A missing plan is a deployment error.
    pub async fn plan_id(&self, tier: Tier) -> Result<String> {
        Ok(self.plan(tier).await?.id)
    }

    /// A tier's plan, its limits as the template declared them.
    pub async fn plan(&self, tier: Tier) -> Result<Plan> {
        let plans = self
            .plans
            .get_or_try_init(|| async {
                let mut by_name = HashMap::new();
                let mut position = None;
                loop {
                    let page = self
                        .client()
                        .get_usage_plans()
                        .limit(500)
                        .set_position(position)
                        .send()
                        .await
                        .map_err(|err| unavailable("list usage plans", err))?;
                    for plan in page.items() {
                        if let (Some(name), Some(id)) = (plan.name(), plan.id()) {
                            let quota = plan.quota().and_then(|quota| {
                                Some(Quota { limit: u64::try_from(quota.limit).ok()?, period: quota.period()?.clone() })
                            });
                            let throttle = plan.throttle();
                            let plan = Plan {
                                id: id.to_owned(),
                                rate_limit: throttle.map(|t| t.rate_limit),
                                burst_limit: throttle.map(|t| t.burst_limit),
                                quota,
                            };
                            by_name.insert(name.to_owned(), plan);
                        }
                    }
                    position = page.position().map(str::to_owned);
                    if position.is_none() {
                        break;
                    }
                }
                Tier::ALL
                    .into_iter()
                    .map(|tier| match by_name.get(self.name(tier)) {
                        Some(plan) => Ok((tier, plan.clone())),
                        None => Err(Error::internal(format!("no usage plan is named {}", self.name(tier)))),
                    })
                    .collect::<Result<HashMap<_, _>>>()
            })
            .await?;
        Ok(plans[&tier].clone())
    }

    /// A new organisation's key, attached to its tier's plan. If attaching
    /// fails the key is deleted again, so no key is left outside every plan.
    pub async fn issue_key(&self, org: &OrgId, tier: Tier) -> Result<UsageKey> {
        let created = self
            .client()
            .create_api_key()
            .name(format!("org-{org}"))
            .description("usage key of one organisation; see shared/integrations/src/usage_plans.rs")
            .enabled(true)
            .tags(STACK_TAG, &self.stack)
            .send()
            .await
            .map_err(|err| unavailable("create api key", err))?;
        let (Some(id), Some(value)) = (created.id, created.value) else {
            return Err(Error::internal("api gateway returned a key without id or value"));
        };
        let key = UsageKey { id, value };
        if let Err(err) = self.attach(&key, tier).await {
            self.delete_key(&key).await;
            return Err(err);
        }
        Ok(key)
    }

    /// Deletes a key nothing will use (a registration that did not commit).
    /// A failure is logged: an orphaned key meters nothing.
    pub async fn delete_key(&self, key: &UsageKey) {
        if let Err(err) = self.client().delete_api_key().api_key(&key.id).send().await {
            tracing::warn!(error = %DisplayErrorContext(&err), key_id = %key.id, "orphaned usage key not deleted");
        }
    }

    async fn attach(&self, key: &UsageKey, tier: Tier) -> Result<()> {
        self.client()
            .create_usage_plan_key()
            .usage_plan_id(self.plan_id(tier).await?)
            .key_id(&key.id)
            .key_type("API_KEY")
            .send()
            .await
            .map_err(|err| unavailable("attach usage key", err))?;
        Ok(())
    }

    async fn detach(&self, key: &UsageKey, tier: Tier) -> Result<()> {
        self.client()
            .delete_usage_plan_key()
            .usage_plan_id(self.plan_id(tier).await?)
            .key_id(&key.id)
            .send()
            .await
            .map_err(|err| unavailable("detach usage key", err))?;
        Ok(())
    }

    /// Moves a key from one tier's plan to another's. API Gateway allows one
    /// plan per key and stage, so it leaves the old plan first; if joining
    /// the new one fails it goes back.
    pub async fn move_key(&self, key: &UsageKey, from: Tier, to: Tier) -> Result<()> {
        self.detach(key, from).await?;
        if let Err(err) = self.attach(key, to).await {
            if self.attach(key, from).await.is_err() {
                tracing::error!(key_id = %key.id, "usage key left without a plan");
            }
            return Err(err);
        }
        Ok(())
    }

    /// The tiers whose plans a key is in (one, when all is well).
    pub async fn tiers_of(&self, key: &UsageKey) -> Result<Vec<Tier>> {
        let mut found = Vec::new();
        for tier in Tier::ALL {
            let keys = self
                .client()
                .get_usage_plan_keys()
                .usage_plan_id(self.plan_id(tier).await?)
                .send()
                .await
                .map_err(|err| unavailable("list usage plan keys", err))?;
            if keys.items().iter().any(|k| k.id() == Some(key.id.as_str())) {
                found.push(tier);
            }
        }
        Ok(found)
    }
}

/// Gives an organisation made before usage plans existed its usage key, in
/// its tier's plan. Login calls it, so such a tenant heals on its next
/// sign-in instead of meeting API Gateway's 403 on every route. Two logins
/// at once may both mint a key: the one that loses the write deletes its own.
pub async fn ensure_usage_key(state: &AppState, tenant: &Tenant, org: &Organization) -> Result<()> {
    if org.usage_key.is_some() {
        return Ok(());
    }
    let plans = UsagePlans::of(state);
    let key = plans.issue_key(&org.id, org.tier).await?;
    let update = state.db.update_with(
        &tenant.organization(),
        Changes::new().set(field::USAGE_KEY, &key).when(Condition::exists().and(Condition::absent(field::USAGE_KEY))),
    )?;
    match state.db.run_update(update).await {
        Ok(_) => {
            tracing::info!(org_id = %org.id, "usage key issued to an organisation that had none");
            Ok(())
        }
        Err(err) => {
            plans.delete_key(&key).await;
            match err {
                store::db::DbError::ConditionFailed => Ok(()),
                other => Err(other.into()),
            }
        }
    }
}

/// Changes a tenant's tier: its usage key moves to the new plan, then the
/// organisation item records the tier (see [`with_key_moved`]).
pub async fn change_tier(state: &AppState, tenant: &Tenant, to: Tier, by: &UserId) -> Result<Organization> {
    let org: Organization =
        state.db.get(&tenant.organization()).await?.ok_or_else(|| Error::NotFound("no such organization".into()))?;
    if org.tier == to {
        return Ok(org);
    }
    let changes = Changes::new().set(field::TIER, &to);
    with_key_moved(state, tenant, &org, to, state.db.patch(tenant, &org, None, by, state.now(), changes)).await
}

/// Moves `org`'s usage key to the plan of `to`, then runs `commit`, the
/// write that records the tier. If the write fails the key moves back,
/// unless the item says `to` by then (a concurrent change to the same tier
/// won), so plan and tier never disagree for long.
pub async fn with_key_moved<T>(
    state: &AppState,
    tenant: &Tenant,
    org: &Organization,
    to: Tier,
    commit: impl Future<Output = Result<T>>,
) -> Result<T> {
    let plans = UsagePlans::of(state);
    if let Some(key) = &org.usage_key {
        plans.move_key(key, org.tier, to).await?;
    }
    let err = match commit.await {
        Ok(done) => return Ok(done),
        Err(err) => err,
    };
    if let Some(key) = &org.usage_key {
        let now: Option<Organization> = state.db.get(&tenant.organization()).await.ok().flatten();
        let recorded = now.map_or(org.tier, |now| now.tier);
        if recorded != to && plans.move_key(key, to, recorded).await.is_err() {
            tracing::error!(org_id = %org.id, "usage key is in the {} plan but the tier is {}", to.as_str(), recorded.as_str());
        }
    }
    Err(err)
}
