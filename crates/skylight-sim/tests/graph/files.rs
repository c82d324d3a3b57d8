//! Sites, drives, items, drive delta, sharing and file writes.

use crate::*;

/// A file with an anonymous link, a guest grant and an organisation link exist in the first
/// team site (the generator guarantees them).
async fn shared_file(g: &G, scope: &str) -> (String, String) {
    let state = g.state().await;
    for d in state["drives"].as_array().unwrap() {
        for i in d["items"].as_array().unwrap() {
            let own = i["permissions"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["inheritedFrom"].is_null() && p["scope"] == scope);
            if own && i["folder"] == false {
                return (
                    d["id"].as_str().unwrap().into(),
                    i["id"].as_str().unwrap().into(),
                );
            }
        }
    }
    panic!("no file with a {scope} link");
}

#[tokio::test(flavor = "multi_thread")]
async fn sites_drives_items_and_drive_delta() {
    let g = boot_graph(50).await;
    let state = g.state().await;
    let first = g.get("/sites/getAllSites?$top=5").await.json();
    assert!(
        first["@odata.nextLink"]
            .as_str()
            .unwrap()
            .contains("/sites/oneDrive.getAllSites?"),
        "{first}"
    );
    let (sites, _) = g.all("/sites/getAllSites?$top=5").await;
    assert_eq!(sites.len(), state["sites"].as_array().unwrap().len());
    assert!(sites.iter().any(|s| s["isPersonalSite"] == true));
    let drives = state["drives"].as_array().unwrap();
    assert!(
        drives
            .iter()
            .any(|d| d["libraryPath"] == "Documents partages"),
        "a non-English library"
    );
    assert!(
        drives
            .iter()
            .filter(|d| d["driveType"] == "documentLibrary")
            .all(|d| d["name"] == "Documents" || d["name"] == "Contracts")
    );

    let paris = sites.iter().find(|s| s["name"] == "BureauParis").unwrap();
    let (site_drives, _) = g
        .all(&format!("/sites/{}/drives", paris["id"].as_str().unwrap()))
        .await;
    assert_eq!(site_drives[0]["name"], "Documents");
    assert!(
        site_drives[0]["webUrl"]
            .as_str()
            .unwrap()
            .ends_with("/Documents%20partages")
    );

    // A user's OneDrive, its children, an item by path.
    let owner = drives
        .iter()
        .find(|d| d["driveType"] == "business")
        .unwrap();
    let uid = owner["owner"]["id"].as_str().unwrap();
    let drive = g.get(&format!("/users/{uid}/drive")).await.json();
    assert_eq!(drive["id"], owner["id"]);
    let did = owner["id"].as_str().unwrap();
    let (children, _) = g.all(&format!("/drives/{did}/root/children?$top=3")).await;
    let at_root = owner["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["parentId"].as_str() == owner["items"][0]["id"].as_str())
        .count();
    assert_eq!(children.len(), at_root);
    let file = owner["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["folder"] == false)
        .unwrap();
    let path = file["path"].as_str().unwrap().replace(' ', "%20");
    let by_path = g.get(&format!("/drives/{did}/root:{path}")).await;
    assert_eq!(by_path.status, 200, "{}", by_path.text);
    let item = by_path.json();
    assert_eq!(item["id"], file["id"]);
    assert!(
        item["parentReference"]["path"]
            .as_str()
            .unwrap()
            .starts_with(&format!("/drives/{did}/root:"))
    );
    assert!(item["file"]["mimeType"].is_string() && item.get("sharepointIds").is_none());
    assert_graph_error(
        &g.get(&format!("/drives/{did}/root:/no/such/file.txt"))
            .await,
        404,
        "itemNotFound",
    );
    let guest = state["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["userType"] == "Guest")
        .unwrap();
    assert_graph_error(
        &g.get(&format!("/users/{}/drive", guest["id"].as_str().unwrap()))
            .await,
        404,
        "ResourceNotFound",
    );

    // Drive delta: the first round lists every item (no parentReference.path), then changes.
    let (round, last) = g.all(&format!("/drives/{did}/root/delta?$top=10")).await;
    assert_eq!(round.len(), owner["items"].as_array().unwrap().len());
    assert!(
        round
            .iter()
            .all(|i| i["parentReference"].get("path").is_none())
    );
    let link = last["@odata.deltaLink"].as_str().unwrap().to_string();
    assert!(link.contains("/root/delta?token="));
    let r = g
        .delete(&format!(
            "/drives/{did}/items/{}",
            file["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    let (seen, last) = g.all(&link).await;
    let gone = seen
        .iter()
        .find(|i| i["id"] == file["id"])
        .expect("the deletion is reported");
    assert_eq!(gone["deleted"]["state"], "deleted");
    assert!(
        gone.get("name").is_none(),
        "OneDrive for Business deletes omit the name"
    );
    let link = last["@odata.deltaLink"].as_str().unwrap().to_string();

    // Expired token: 410 resyncRequired with a fresh enumeration in Location.
    g.sim.advance(8 * 86_400).await;
    let t = token(
        &g.sim,
        g.sim.tenant["client_id"].as_str().unwrap(),
        g.sim.tenant["client_secret"].as_str().unwrap(),
        GRAPH_SCOPE,
    )
    .await;
    let r = g.send(Method::GET, &link, Some(&t), None, &[]).await;
    assert_graph_error(&r, 410, "resyncRequired");
    assert_eq!(
        r.json()["error"]["innerError"]["code"],
        "resyncChangesApplyDifferences"
    );
    let loc = r.header("location").expect("Location");
    let again = g.send(Method::GET, &loc, Some(&t), None, &[]).await;
    assert_eq!(again.status, 200, "{}", again.text);
    assert!(!again.json()["value"].as_array().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn sharing_permissions_can_be_listed_removed_and_added() {
    let g = boot_graph(50).await;
    g.sim_post("/_sim/graph/control", json!({"audit_delay_secs": 0}))
        .await;
    let (did, iid) = shared_file(&g, "anonymous").await;
    let perms = g
        .get(&format!("/drives/{did}/items/{iid}/permissions"))
        .await
        .json();
    let perms = perms["value"].as_array().unwrap();
    let link = perms
        .iter()
        .find(|p| p["link"]["scope"] == "anonymous")
        .unwrap();
    assert!(link["inheritedFrom"].is_null());
    assert_eq!(link["expirationDateTime"], "0001-01-01T00:00:00Z");
    let inherited = perms
        .iter()
        .find(|p| p["inheritedFrom"].is_object())
        .expect("inherited permissions are listed");
    assert!(
        inherited["inheritedFrom"]["path"]
            .as_str()
            .unwrap()
            .contains("/root:")
    );
    let r = g
        .delete(&format!(
            "/drives/{did}/items/{iid}/permissions/{}",
            inherited["id"].as_str().unwrap()
        ))
        .await;
    assert_graph_error(&r, 403, "accessDenied");

    let lid = link["id"].as_str().unwrap();
    assert_eq!(
        g.delete(&format!("/drives/{did}/items/{iid}/permissions/{lid}"))
            .await
            .status,
        204
    );
    assert_graph_error(
        &g.delete(&format!("/drives/{did}/items/{iid}/permissions/{lid}"))
            .await,
        404,
        "itemNotFound",
    );
    let rec = g.audit().await.last().cloned().unwrap();
    assert_eq!(rec["operation"], "AnonymousLinkRemoved");
    let full = g
        .fetch_record(rec["id"].as_str().unwrap(), "Audit.SharePoint")
        .await;
    assert_eq!(full["RecordType"], 14);
    assert_eq!(full["UserId"], "app@sharepoint");
    let state = g.state().await;
    let item = state["drives"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == did.as_str())
        .unwrap()["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == iid.as_str())
        .unwrap()
        .clone();
    assert_ne!(item["accessLevel"], "public");
    assert!(
        full["ObjectId"]
            .as_str()
            .unwrap()
            .ends_with(item["name"].as_str().unwrap())
    );

    // Invite someone outside, then a link for the organisation (again: the same link, 200).
    let r = g
        .post(&format!("/drives/{did}/items/{iid}/invite"), json!({"recipients": [{"email": "pat@fabrikam.example"}], "roles": ["write"], "requireSignIn": true, "sendInvitation": false}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.json()["value"][0]["invitation"]["email"],
        "pat@fabrikam.example"
    );
    assert_eq!(
        g.audit().await.last().unwrap()["operation"],
        "SharingInvitationCreated"
    );
    let state = g.state().await;
    let item = state["drives"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == did.as_str())
        .unwrap()["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == iid.as_str())
        .unwrap()
        .clone();
    assert_eq!(item["accessLevel"], "external");
    assert!(
        item["externalDomains"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d == "fabrikam.example")
    );
    let made = g
        .post(
            &format!("/drives/{did}/items/{iid}/createLink"),
            json!({"type": "view", "scope": "organization"}),
        )
        .await;
    assert_eq!(made.status, 201, "{}", made.text);
    let again = g
        .post(
            &format!("/drives/{did}/items/{iid}/createLink"),
            json!({"type": "view", "scope": "organization"}),
        )
        .await;
    assert_eq!(again.status, 200);
    assert_eq!(again.json()["id"], made.json()["id"]);
    assert_eq!(
        g.audit().await.last().unwrap()["operation"],
        "CompanyLinkCreated"
    );
    assert_graph_error(
        &g.post(
            &format!("/drives/{did}/items/{iid}/createLink"),
            json!({"type": "embed"}),
        )
        .await,
        400,
        "invalidRequest",
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn folders_moves_locks_deletes_copies_and_uploads() {
    let g = boot_graph(50).await;
    g.sim_post("/_sim/graph/control", json!({"audit_delay_secs": 0}))
        .await;
    let (did, iid) = shared_file(&g, "organization").await;
    let q = g.post(&format!("/drives/{did}/root/children"), json!({"name": "Quarantine", "folder": {}, "@microsoft.graph.conflictBehavior": "fail"})).await;
    assert_eq!(q.status, 201, "{}", q.text);
    let qid = q.json()["id"].as_str().unwrap().to_string();
    assert_eq!(
        g.audit().await.last().unwrap()["operation"],
        "FolderCreated"
    );
    let dup = g
        .post(
            &format!("/drives/{did}/root/children"),
            json!({"name": "quarantine", "folder": {}}),
        )
        .await;
    assert_graph_error(&dup, 409, "nameAlreadyExists");
    let renamed = g.post(&format!("/drives/{did}/root/children"), json!({"name": "Quarantine", "folder": {}, "@microsoft.graph.conflictBehavior": "rename"})).await;
    assert_eq!(renamed.json()["name"], "Quarantine 1");

    // A locked file refuses moves and deletes (423) until the lock lapses.
    g.sim_post(
        "/_sim/graph/locks",
        json!({"drive_id": did, "item_id": iid, "seconds": 600}),
    )
    .await;
    let r = g
        .patch(
            &format!("/drives/{did}/items/{iid}"),
            json!({"parentReference": {"id": qid}}),
        )
        .await;
    assert_graph_error(&r, 423, "resourceLocked");
    assert_graph_error(
        &g.delete(&format!("/drives/{did}/items/{iid}")).await,
        423,
        "resourceLocked",
    );
    let t = g.state().await;
    assert!(!t["locks"].as_array().unwrap().is_empty());
    g.sim.advance(601).await;

    let moved = g
        .patch(
            &format!("/drives/{did}/items/{iid}"),
            json!({"parentReference": {"id": qid}}),
        )
        .await;
    assert_eq!(moved.status, 200, "{}", moved.text);
    assert_eq!(moved.json()["parentReference"]["id"], qid.as_str());
    let rec = g.audit().await.last().cloned().unwrap();
    assert_eq!(rec["operation"], "FileMoved");
    let full = g
        .fetch_record(rec["id"].as_str().unwrap(), "Audit.SharePoint")
        .await;
    assert!(
        full["DestinationRelativeUrl"]
            .as_str()
            .unwrap()
            .ends_with("/Quarantine"),
        "{full}"
    );
    // Moving never carries across drives, and a name clash fails by default.
    let other = g.state().await["drives"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] != did.as_str())
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let cross = g
        .patch(
            &format!("/drives/{did}/items/{iid}"),
            json!({"parentReference": {"driveId": other, "id": "x"}}),
        )
        .await;
    assert_graph_error(&cross, 400, "invalidRequest");

    // Copy with a monitor, upload a tombstone, then delete.
    let c = g
        .post(
            &format!("/drives/{did}/items/{iid}/copy"),
            json!({"parentReference": {"driveId": did, "id": qid}, "name": "copy.bin"}),
        )
        .await;
    assert_eq!(c.status, 202, "{}", c.text);
    let monitor = c.header("location").unwrap();
    let first = g.sim.http.get(&monitor).send().await.unwrap();
    assert_eq!(first.status(), 202);
    let done: Value = g
        .sim
        .http
        .get(&monitor)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(done["status"], "completed");
    let copied = g
        .get(&format!(
            "/drives/{did}/items/{}",
            done["resourceId"].as_str().unwrap()
        ))
        .await;
    assert_eq!(copied.json()["name"], "copy.bin");
    let up = g
        .sim
        .http
        .put(g.url(&format!(
            "/drives/{did}/root:/Quarantine/README.txt:/content"
        )))
        .bearer_auth(&g.token)
        .body("This file was quarantined.")
        .send()
        .await
        .unwrap();
    assert_eq!(up.status(), 201);
    assert_eq!(g.audit().await.last().unwrap()["operation"], "FileUploaded");
    assert_eq!(
        g.delete(&format!("/drives/{did}/items/{iid}")).await.status,
        204
    );
    assert_eq!(g.audit().await.last().unwrap()["operation"], "FileRecycled");
    assert_graph_error(
        &g.get(&format!("/drives/{did}/items/{iid}")).await,
        404,
        "itemNotFound",
    );
}
