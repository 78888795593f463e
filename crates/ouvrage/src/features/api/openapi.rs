//! The OpenAPI document of the API, derived from its handlers and types, served at
//! `/api/v1/openapi.json` (no token needed).

use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::problem::ProblemDoc;
use super::schema::{
    BuildingOut, ChangeOut, DocumentOut, DuplicateCandidate, ImportedStudy, ManagerOut, SiteDetail, SiteList, SiteOut,
    StudyFormat, StudyOut, StudyVersionOut, UpdatedStudy,
};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "ouvrage — API des intégrateurs",
        description = "API pour les logiciels d'étude thermique : import des études RSET/RSEE (création ou mise à \
            jour du chantier), lecture des chantiers du client, dépôt et lecture de leurs documents, publication des \
            rapports et des factures. Chaque jeton est créé par le prestataire pour un \
            client et ne donne accès qu'aux sites de ce client. Les erreurs sont des « problem details » \
            (RFC 9457, `application/problem+json`) en français.",
        version = "1"
    ),
    paths(
        super::studies::import,
        super::sites::list,
        super::sites::get,
        super::documents::create,
        super::documents::list,
        super::documents::get,
        super::documents::content
    ),
    components(schemas(
        ProblemDoc,
        ImportedStudy,
        UpdatedStudy,
        StudyOut,
        StudyFormat,
        BuildingOut,
        ChangeOut,
        DuplicateCandidate,
        SiteList,
        SiteOut,
        ManagerOut,
        SiteDetail,
        StudyVersionOut,
        DocumentOut
    )),
    modifiers(&BearerScheme),
    tags(
        (name = "Études thermiques", description = "Import des études thermiques"),
        (name = "Chantiers", description = "Les sites du client du jeton"),
        (name = "Documents", description = "Les documents des chantiers du client, rapports et factures publiés")
    )
)]
pub struct ApiDoc;

/// The `bearer` security scheme the operations name.
struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("ouv_…")
                    .description(Some(
                        "Jeton d'API créé par le prestataire pour un client : « Authorization: Bearer ouv_… ».",
                    ))
                    .build(),
            ),
        );
    }
}

/// The document, built once.
pub fn document() -> &'static serde_json::Value {
    static DOC: std::sync::OnceLock<serde_json::Value> = std::sync::OnceLock::new();
    DOC.get_or_init(|| {
        let mut doc = serde_json::to_value(ApiDoc::openapi()).expect("the OpenAPI document serialises");
        document_upload_rules(&mut doc);
        doc
    })
}

/// The rules between the parts of a document upload, which utoipa's types cannot express: `type`
/// or `publish_as` must be given, and `xml` (the Factur-X twin) only goes with
/// `publish_as=invoice` (the handler answers 400 otherwise). Written as the three ways an upload
/// may be (an invoice; anything else with a type; anything else published as a report) rather
/// than with `dependentSchemas`, which fewer tools follow.
fn document_upload_rules(doc: &mut serde_json::Value) {
    let upload = &mut doc["paths"]["/api/v1/sites/{site_id}/documents"]["post"]["requestBody"];
    let Some(form) = upload["content"]["multipart/form-data"]["schema"].as_object_mut() else {
        return;
    };
    form.insert(
        "anyOf".into(),
        serde_json::json!([
            { "required": ["publish_as"], "properties": { "publish_as": { "const": "invoice" } } },
            { "required": ["type"], "properties": { "xml": false } },
            { "required": ["publish_as"], "properties": { "xml": false } }
        ]),
    );
}

pub async fn serve() -> Json<&'static serde_json::Value> {
    Json(document())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_describes_the_three_endpoints() {
        let doc = document();
        assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
        for path in [
            "/api/v1/thermal-studies",
            "/api/v1/sites",
            "/api/v1/sites/{id}",
            "/api/v1/sites/{site_id}/documents",
            "/api/v1/documents/{id}",
            "/api/v1/documents/{id}/content",
        ] {
            assert!(doc["paths"][path].is_object(), "{path} missing");
        }
        let upload = &doc["paths"]["/api/v1/sites/{site_id}/documents"]["post"];
        let form = &upload["requestBody"]["content"]["multipart/form-data"]["schema"];
        assert_eq!(form["properties"]["file"]["format"], "binary", "{form}");
        assert!(form["properties"]["type"].is_object() && form["properties"]["publish_as"].is_object(), "{form}");
        assert_eq!(form["additionalProperties"], false, "{form}");
        assert_eq!(form["anyOf"][0]["properties"]["publish_as"]["const"], "invoice", "{form}");
        assert_eq!(form["anyOf"][1]["required"][0], "type", "{form}");
        assert!(doc["components"]["schemas"]["Document"]["properties"]["type"].is_object());
        let import = &doc["paths"]["/api/v1/thermal-studies"]["post"];
        assert!(import["requestBody"]["content"]["multipart/form-data"].is_object());
        for status in ["200", "201", "401", "409", "422"] {
            assert!(import["responses"][status].is_object(), "{status} missing");
        }
        assert!(doc["components"]["schemas"]["Problem"]["properties"]["existing_site_id"].is_object());
        assert_eq!(doc["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
    }
}
