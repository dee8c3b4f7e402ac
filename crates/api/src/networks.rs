//! The network and volume endpoints: list (filters), inspect, create, delete, prune;
//! network connect and disconnect.

use std::collections::BTreeMap;

use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use lindocker_engine::network_info::{NetworkCreate, NetworkFilters};
use lindocker_engine::volume_ops::VolumeFilters;
use serde::Deserialize;
use serde_json::json;

use crate::body::Body;
use crate::error::{ApiError, ApiResult};
use crate::filter_map::{self, engine_error};
use crate::router::{Ctx, Routed, json as json_response, no_content, read_json};

/// Routes `/networks/...` and `/volumes/...`.
pub async fn route(ctx: &Ctx, request: Request<Incoming>) -> Routed {
    let method = request.method().clone();
    let result = match (&method, ctx.path().as_slice()) {
        (&Method::GET, ["networks"]) => network_list(ctx).await,
        (&Method::POST, ["networks", "create"]) => network_create(ctx, request).await,
        (&Method::POST, ["networks", "prune"]) => network_prune(ctx).await,
        (&Method::GET, ["networks", id]) => {
            let id = (*id).to_owned();
            ctx.blocking(move |e| e.network_inspect(&id).map_err(engine_error))
                .await
                .and_then(|n| json_response(StatusCode::OK, &n))
        }
        (&Method::DELETE, ["networks", id]) => {
            let id = (*id).to_owned();
            match ctx.blocking(move |e| e.network_remove(&id).map_err(engine_error)).await {
                Ok(()) => no_content(),
                Err(e) => Err(e),
            }
        }
        (&Method::POST, ["networks", id, "connect"]) => network_connect(ctx, (*id).to_owned(), request).await,
        (&Method::POST, ["networks", id, "disconnect"]) => network_disconnect(ctx, (*id).to_owned(), request).await,
        (&Method::GET, ["volumes"]) => volume_list(ctx).await,
        (&Method::POST, ["volumes", "create"]) => volume_create(ctx, request).await,
        (&Method::POST, ["volumes", "prune"]) => volume_prune(ctx).await,
        (&Method::GET, ["volumes", name]) => {
            let name = (*name).to_owned();
            ctx.blocking(move |e| e.volume_inspect(&name).map_err(engine_error))
                .await
                .and_then(|v| json_response(StatusCode::OK, &v))
        }
        (&Method::DELETE, ["volumes", name]) => {
            let name = (*name).to_owned();
            let force = match ctx.query.flag("force") {
                Ok(f) => f,
                Err(e) => return Ok(Err(e)),
            };
            ctx.blocking(move |e| e.volume_remove(&name, force).map_err(engine_error)).await.and_then(|()| no_content())
        }
        _ => return Err(request),
    };
    Ok(result)
}

async fn network_list(ctx: &Ctx) -> ApiResult<Response<Body>> {
    let filters = NetworkFilters::from_map(&filter_map::filters(&ctx.query)?).map_err(engine_error)?;
    let list = ctx.blocking(move |e| e.network_list(&filters).map_err(engine_error)).await?;
    json_response(StatusCode::OK, &list)
}

/// `POST /networks/create`'s body (fields other clients send and lindocker has no use
/// for are ignored, as dockerd ignores unknown ones).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CreateBody {
    name: String,
    #[serde(default)]
    driver: Option<String>,
    #[serde(default)]
    internal: bool,
    #[serde(default, rename = "EnableIPv6")]
    enable_ipv6: Option<bool>,
    #[serde(default, rename = "IPAM")]
    ipam: Option<IpamBody>,
    #[serde(default)]
    labels: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct IpamBody {
    #[serde(default)]
    driver: Option<String>,
    #[serde(default)]
    config: Option<Vec<IpamConfigBody>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct IpamConfigBody {
    #[serde(default)]
    subnet: Option<String>,
    #[serde(default)]
    gateway: Option<String>,
    #[serde(default, rename = "IPRange")]
    ip_range: Option<String>,
}

async fn network_create(ctx: &Ctx, request: Request<Incoming>) -> ApiResult<Response<Body>> {
    let body: CreateBody = read_json(request).await?;
    if body.name.is_empty() {
        return Err(ApiError::bad("network name is required"));
    }
    if let Some(driver) =
        body.ipam.as_ref().and_then(|i| i.driver.as_deref()).filter(|d| !d.is_empty() && *d != "default")
    {
        return Err(ApiError::bad(format!("IPAM driver {driver:?}: only the default one exists")));
    }
    let mut request = NetworkCreate {
        name: body.name,
        driver: body.driver.unwrap_or_default(),
        internal: body.internal,
        ipv6: body.enable_ipv6.unwrap_or(false),
        labels: body.labels.unwrap_or_default(),
        ..NetworkCreate::default()
    };
    for c in body.ipam.and_then(|i| i.config).unwrap_or_default() {
        request.subnets.extend(c.subnet.filter(|s| !s.is_empty()));
        request.gateways.extend(c.gateway.filter(|s| !s.is_empty()));
        if let Some(range) = c.ip_range.filter(|s| !s.is_empty()) {
            request.ip_range = Some(range);
        }
    }
    let network = ctx.blocking(move |e| e.network_create(&request).map_err(engine_error)).await?;
    json_response(StatusCode::CREATED, &json!({ "Id": network.id, "Warning": "" }))
}

async fn network_prune(ctx: &Ctx) -> ApiResult<Response<Body>> {
    let filters = filter_map::filters(&ctx.query)?;
    if let Some(key) = filters.keys().next() {
        return Err(ApiError::bad(format!("invalid filter '{key}'")));
    }
    let removed = ctx.blocking(|e| e.network_prune().map_err(engine_error)).await?;
    json_response(StatusCode::OK, &json!({ "NetworksDeleted": removed }))
}

/// `POST /networks/{id}/connect`'s body.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ConnectBody {
    container: String,
    #[serde(default)]
    endpoint_config: Option<EndpointBody>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct EndpointBody {
    #[serde(default, rename = "IPAMConfig")]
    ipam_config: Option<EndpointIpam>,
    #[serde(default)]
    aliases: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
struct EndpointIpam {
    #[serde(default, rename = "IPv4Address")]
    ipv4: Option<String>,
    #[serde(default, rename = "IPv6Address")]
    ipv6: Option<String>,
}

/// `POST /networks/{id}/connect`.
async fn network_connect(ctx: &Ctx, network: String, request: Request<Incoming>) -> ApiResult<Response<Body>> {
    let body: ConnectBody = read_json(request).await?;
    let endpoint = body.endpoint_config.unwrap_or_default();
    let ipam = endpoint.ipam_config.unwrap_or_default();
    let ip = ipam
        .ipv4
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<std::net::Ipv4Addr>().map_err(|_| ApiError::bad(format!("invalid IPv4 address {s:?}"))))
        .transpose()?;
    let ip6 = ipam
        .ipv6
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<std::net::Ipv6Addr>().map_err(|_| ApiError::bad(format!("invalid IPv6 address {s:?}"))))
        .transpose()?;
    let aliases = endpoint.aliases.unwrap_or_default();
    for a in &aliases {
        lindocker_engine::options::parse_alias("Aliases", a).map_err(engine_error)?;
    }
    let request = lindocker_engine::netconnect::ConnectRequest { network, container: body.container, ip, ip6, aliases };
    ctx.blocking(move |e| e.connect_network(&request).map_err(engine_error)).await?;
    Ok(crate::router::with_status(StatusCode::OK, crate::body::empty()))
}

/// `POST /networks/{id}/disconnect`'s body.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DisconnectBody {
    container: String,
}

async fn network_disconnect(ctx: &Ctx, network: String, request: Request<Incoming>) -> ApiResult<Response<Body>> {
    let body: DisconnectBody = read_json(request).await?;
    ctx.blocking(move |e| e.disconnect_network(&network, &body.container).map_err(engine_error)).await?;
    Ok(crate::router::with_status(StatusCode::OK, crate::body::empty()))
}

async fn volume_list(ctx: &Ctx) -> ApiResult<Response<Body>> {
    let filters = VolumeFilters::from_map(&filter_map::filters(&ctx.query)?).map_err(engine_error)?;
    let volumes = ctx.blocking(move |e| e.volume_list(&filters).map_err(engine_error)).await?;
    json_response(StatusCode::OK, &json!({ "Volumes": volumes, "Warnings": [] }))
}

/// `POST /volumes/create`'s body.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct VolumeBody {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    driver: Option<String>,
    #[serde(default)]
    driver_opts: Option<BTreeMap<String, String>>,
    #[serde(default)]
    labels: Option<BTreeMap<String, String>>,
}

async fn volume_create(ctx: &Ctx, request: Request<Incoming>) -> ApiResult<Response<Body>> {
    let body: VolumeBody = read_json(request).await?;
    let volume = ctx
        .blocking(move |e| {
            e.volume_create(
                body.name.as_deref(),
                body.driver.as_deref(),
                body.labels.unwrap_or_default(),
                body.driver_opts.unwrap_or_default(),
            )
            .map_err(engine_error)
        })
        .await?;
    json_response(StatusCode::CREATED, &volume)
}

/// `POST /volumes/prune?filters=`: anonymous volumes; `all=true` named ones too.
async fn volume_prune(ctx: &Ctx) -> ApiResult<Response<Body>> {
    let map = filter_map::filters(&ctx.query)?;
    let all = filter_map::boolean(&map, "all")? == Some(true);
    let filters = VolumeFilters::from_map(&map).map_err(engine_error)?;
    let report = ctx.blocking(move |e| e.volume_prune(all, &filters).map_err(engine_error)).await?;
    json_response(StatusCode::OK, &report)
}
